"use strict";
var __createBinding = (this && this.__createBinding) || (Object.create ? (function(o, m, k, k2) {
    if (k2 === undefined) k2 = k;
    var desc = Object.getOwnPropertyDescriptor(m, k);
    if (!desc || ("get" in desc ? !m.__esModule : desc.writable || desc.configurable)) {
      desc = { enumerable: true, get: function() { return m[k]; } };
    }
    Object.defineProperty(o, k2, desc);
}) : (function(o, m, k, k2) {
    if (k2 === undefined) k2 = k;
    o[k2] = m[k];
}));
var __exportStar = (this && this.__exportStar) || function(m, exports) {
    for (var p in m) if (p !== "default" && !Object.prototype.hasOwnProperty.call(exports, p)) __createBinding(exports, m, p);
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.splitPortRange = exports.WorkerMediaService = exports.LocalMediaService = exports.MediaRouter = exports.isRtcp = exports.buildRtp = exports.parseRtp = exports.RtpEndpoint = exports.PortAllocator = exports.DtmfRecognizer = exports.ActiveSpeakerDetector = exports.MixClock = exports.AudioMixer = exports.rms = exports.goertzelPower = exports.dominantFrequency = void 0;
__exportStar(require("./codecs/codec"), exports);
var tone_1 = require("./codecs/tone");
Object.defineProperty(exports, "dominantFrequency", { enumerable: true, get: function () { return tone_1.dominantFrequency; } });
Object.defineProperty(exports, "goertzelPower", { enumerable: true, get: function () { return tone_1.goertzelPower; } });
Object.defineProperty(exports, "rms", { enumerable: true, get: function () { return tone_1.rms; } });
var audio_mixer_1 = require("./mixer/audio-mixer");
Object.defineProperty(exports, "AudioMixer", { enumerable: true, get: function () { return audio_mixer_1.AudioMixer; } });
var mix_clock_1 = require("./mixer/mix-clock");
Object.defineProperty(exports, "MixClock", { enumerable: true, get: function () { return mix_clock_1.MixClock; } });
var active_speaker_1 = require("./active-speaker");
Object.defineProperty(exports, "ActiveSpeakerDetector", { enumerable: true, get: function () { return active_speaker_1.ActiveSpeakerDetector; } });
var dtmf_1 = require("./dtmf");
Object.defineProperty(exports, "DtmfRecognizer", { enumerable: true, get: function () { return dtmf_1.DtmfRecognizer; } });
var port_allocator_1 = require("./rtp/port-allocator");
Object.defineProperty(exports, "PortAllocator", { enumerable: true, get: function () { return port_allocator_1.PortAllocator; } });
var rtp_endpoint_1 = require("./rtp/rtp-endpoint");
Object.defineProperty(exports, "RtpEndpoint", { enumerable: true, get: function () { return rtp_endpoint_1.RtpEndpoint; } });
var packet_1 = require("./rtp/packet");
Object.defineProperty(exports, "parseRtp", { enumerable: true, get: function () { return packet_1.parseRtp; } });
Object.defineProperty(exports, "buildRtp", { enumerable: true, get: function () { return packet_1.buildRtp; } });
Object.defineProperty(exports, "isRtcp", { enumerable: true, get: function () { return packet_1.isRtcp; } });
var router_1 = require("./router");
Object.defineProperty(exports, "MediaRouter", { enumerable: true, get: function () { return router_1.MediaRouter; } });
var local_service_1 = require("./local-service");
Object.defineProperty(exports, "LocalMediaService", { enumerable: true, get: function () { return local_service_1.LocalMediaService; } });
var worker_service_1 = require("./worker/worker-service");
Object.defineProperty(exports, "WorkerMediaService", { enumerable: true, get: function () { return worker_service_1.WorkerMediaService; } });
Object.defineProperty(exports, "splitPortRange", { enumerable: true, get: function () { return worker_service_1.splitPortRange; } });
//# sourceMappingURL=index.js.map