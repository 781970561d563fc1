/**
 * Messages between the bench runner and its load-generator child processes (Node IPC over
 * child_process.fork). Types only: no behaviour, nothing that touches a socket.
 */
import type { BenchCodec, ToneCheck } from './audio';

export interface RoomSpec {
  /** SIP user dialled (a VMR alias). */
  user: string;
  /** 1-based room number: the Janus room id when the target is Janus. */
  id: number;
  /** Participants in the room (tones 300, 400, ... Hz). */
  size: number;
  /** Keep received payloads of this room's participants for the tone check. */
  sampled: boolean;
}

export type ToRunner =
  | { op: 'ready' }
  | { op: 'joined'; ok: number; failed: number; errors: string[]; setupMs: number[] }
  | { op: 'window-started' }
  | { op: 'window'; result: GeneratorWindow }
  | { op: 'hung-up'; ok: number; failed: number; nodeByes: number }
  | { op: 'error'; message: string };

/** How participants join: a SIP INVITE (optionally offering SDES-SRTP), or Janus's HTTP API. */
export type JoinSignaling =
  | { kind: 'sip'; sipPort: number; srtp: boolean }
  | { kind: 'janus'; url: string; opusComplexity: number; opusBitrate: number };

export type ToGenerator =
  | { op: 'join'; codec: BenchCodec; signaling: JoinSignaling; rooms: RoomSpec[]; cps: number }
  | { op: 'window-start' }
  | { op: 'window-stop' }
  | { op: 'hangup' }
  | { op: 'exit' };

export interface ToneResult extends ToneCheck {
  room: string;
  k: number;
}

export interface GeneratorWindow {
  durationMs: number;
  participants: Array<{ room: string; k: number; received: number; p99Ms: number }>;
  /** Pooled deviation histogram, sparse [bin, count]. */
  pooled: Array<[number, number]>;
  tones: ToneResult[];
  /** Inter-arrivals over 30 ms and under 10 ms, summed over participants. */
  gaps: number;
  bunched: number;
  /** RTP frames sent in the window, and 5 ms send ticks that ran late (skipped). */
  sent: number;
  lateTicks: number;
  /** SRTP packets refused by the participants' contexts (auth, replay, malformed) in the window. */
  srtpRejected: number;
  /** The generator's own event-loop delay p99 (ms) and CPU seconds in the window. */
  loopDelayP99Ms: number;
  cpuSeconds: number;
}
