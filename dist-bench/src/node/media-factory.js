"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.createMediaRouterFactory = createMediaRouterFactory;
const media_1 = require("../media");
function createMediaRouterFactory(deps) {
    const media = deps.config.media;
    const codecFactory = (0, media_1.audioCodecFactory)({ opusComplexity: media.opus_complexity });
    return (conference) => new media_1.MediaRouter({
        conferenceId: conference.id,
        name: conference.name,
        logger: deps.logger,
        mixClock: deps.mixClock,
        maxTalkers: media.mix_talkers,
        jitterBufferMs: media.jitter_buffer_ms,
        codecFactory,
    });
}
//# sourceMappingURL=media-factory.js.map