/**
 * Builds one MediaRouter per conference instance with the node's media settings (mix talkers,
 * jitter buffer depth, Opus complexity) and the node-wide MixClock.
 */
import type { ConferenceId, Logger } from '../common';
import { MediaRouter, audioCodecFactory, type MixClock } from '../media';
import type { ClusterConfig } from './config';

export function createMediaRouterFactory(deps: {
  config: ClusterConfig;
  mixClock: MixClock;
  logger: Logger;
}): (conference: { id: ConferenceId; name: string }) => MediaRouter {
  const media = deps.config.media;
  const codecFactory = audioCodecFactory({ opusComplexity: media.opus_complexity });
  return (conference) =>
    new MediaRouter({
      conferenceId: conference.id,
      name: conference.name,
      logger: deps.logger,
      mixClock: deps.mixClock,
      maxTalkers: media.mix_talkers,
      jitterBufferMs: media.jitter_buffer_ms,
      codecFactory,
    });
}
