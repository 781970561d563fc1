/**
 * The conference's audio mixer as a Sink: every audio source the policy lets through (local
 * participants and those of other nodes) is decoded and mixed through the mixer input its owner
 * says. Which input a source feeds, if any, is the router's call (hooks); never mixes a source
 * it was not given an input for.
 */
import type { MixerInput } from '../mixer/audio-mixer';
import type { MediaPacket, Sink, SourceView } from './types';

export interface MixerSinkHooks {
  /** Control rate: the mixer input `source` feeds, or undefined when it is not mixed. */
  attach(source: SourceView): MixerInput | undefined;
  /** Control rate: `source` left; it had an input. */
  detach(source: SourceView): void;
}

export class MixerSink implements Sink {
  readonly kind = 'audio';
  readonly owner = undefined;
  readonly excludeMeshTag = undefined;
  onKeyframeRequest: ((source: SourceView) => void) | null = null;
  private readonly inputs = new Map<SourceView, MixerInput>();

  constructor(private readonly hooks: MixerSinkHooks) {}

  sourceAdded(source: SourceView): void {
    const input = this.hooks.attach(source);
    if (input) this.inputs.set(source, input);
  }

  sourceRemoved(source: SourceView): void {
    if (this.inputs.delete(source)) this.hooks.detach(source);
  }

  /** The source's input was replaced (a re-INVITE changed its codec, so its decoder). */
  rebind(source: SourceView, input: MixerInput): void {
    this.inputs.set(source, input);
  }

  isMixed(source: SourceView): boolean {
    return this.inputs.has(source);
  }

  send(packet: MediaPacket, source: SourceView): boolean {
    const input = this.inputs.get(source);
    return input !== undefined && input.pushRtp(packet.sequence, packet.payload, packet.level);
  }
}
