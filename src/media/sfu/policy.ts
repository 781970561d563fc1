/**
 * Whether a stream goes to a consumer (pure): same kind, never back to the participant who sent
 * it, never back over the link it came in on (split horizon, DESIGN.md section 6). No state, no
 * clock: the SFU calls it at control rate only, when sources or sinks come and go.
 */
import type { SinkWants, SourceView } from './types';

export type ForwardDecision = 'forward' | 'other-kind' | 'own-stream' | 'split-horizon';

export function forwardDecision(source: Pick<SourceView, 'owner' | 'kind' | 'meshTag'>, sink: SinkWants): ForwardDecision {
  if (sink.kind !== 'any' && sink.kind !== source.kind) return 'other-kind';
  if (sink.owner !== undefined && sink.owner === source.owner) return 'own-stream';
  if (sink.excludeMeshTag !== undefined && sink.excludeMeshTag === source.meshTag) return 'split-horizon';
  if (sink.excludeMeshPrefix !== undefined && source.meshTag.startsWith(sink.excludeMeshPrefix)) return 'split-horizon';
  return 'forward';
}

export function shouldForward(source: Pick<SourceView, 'owner' | 'kind' | 'meshTag'>, sink: SinkWants): boolean {
  return forwardDecision(source, sink) === 'forward';
}
