/**
 * Test support for backplane tests (the node never uses it): a plain-RTP "phone" that streams a
 * PCMU tone into a media service and records the mix it gets back, and a stand-in for the lead's
 * control channel that joins the backplanes of several nodes (addresses, derived keys, stream
 * lists). Real loopback sockets; everything it opens, hangUp()/close() closes.
 */
import dgram from 'node:dgram';
import {
  MIX_FRAME_SAMPLES,
  MIX_SAMPLE_RATE,
  createAudioCodec,
  dominantFrequency,
  goertzelPower,
  parseRtp,
  buildRtp,
  type MediaConferenceRef,
  type MediaService,
} from '../media';
import type { ConferenceId, NodeId, ParticipantId } from './deps';
import { deriveLinkKeys, type LinkKeys } from './keys';
import type { BackplaneAddress } from './types';
import { newLinkNonce } from './nonce';
import type { BackplaneStream } from './streams';
import type { LinkOptions } from './host';

export async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export type PhoneMedia = Pick<MediaService, 'createRtpParticipant' | 'updateRtpParticipant'>;

/** A SIP phone reduced to its RTP: sends a PCMU tone every 20 ms and decodes what it receives. */
export class TonePhone {
  sent = 0;
  private readonly received: Int16Array[] = [];
  private readonly timer: NodeJS.Timeout;
  private open = true;

  private constructor(
    private readonly sock: dgram.Socket,
    readonly rtpPort: number,
    freq: number,
    ssrc: number,
  ) {
    const codec = createAudioCodec('PCMU');
    const decoder = createAudioCodec('PCMU');
    sock.on('message', (msg) => {
      const view = parseRtp(msg);
      if (!view || view.payloadType !== 0) return;
      const out = new Int16Array(MIX_FRAME_SAMPLES * 2);
      const n = decoder.decode(view.payload, out, 0);
      if (n > 0) this.received.push(out.subarray(0, n));
    });
    const frame = new Int16Array(MIX_FRAME_SAMPLES);
    const w = (2 * Math.PI * freq) / MIX_SAMPLE_RATE;
    this.timer = setInterval(() => {
      for (let i = 0; i < frame.length; i++) frame[i] = Math.round(6000 * Math.sin(w * (this.sent * frame.length + i)));
      sock.send(buildRtp(0, false, this.sent & 0xffff, (this.sent * 160) >>> 0, ssrc, codec.encode(frame)), rtpPort, '127.0.0.1');
      this.sent++;
    }, 20);
  }

  /** Joins `participant` to the conference's media and starts streaming. */
  static async dial(media: PhoneMedia, conference: MediaConferenceRef, participant: ParticipantId, freq: number): Promise<TonePhone> {
    const local = await media.createRtpParticipant(conference, participant, true);
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    media.updateRtpParticipant(participant, {
      remote: { address: '127.0.0.1', rtpPort: sock.address().port, rtcpMux: false, payloadTypes: [0] },
      direction: 'sendrecv',
      format: { name: 'PCMU', payloadType: 0, clockRate: 8000, channels: 1 },
    });
    return new TonePhone(sock, local.rtpPort, freq, 0x7000 + freq);
  }

  /** Samples received so far (mixer rate). */
  get receivedSamples(): number {
    return this.received.reduce((n, c) => n + c.length, 0);
  }

  /** Forgets what was received (measure only what comes after). */
  clear(): void {
    this.received.length = 0;
  }

  /** The last `ms` of what the phone heard. */
  heard(ms: number): Int16Array {
    const want = (MIX_SAMPLE_RATE / 1000) * ms;
    const all = new Int16Array(this.receivedSamples);
    let off = 0;
    for (const c of this.received) {
      all.set(c, off);
      off += c.length;
    }
    return all.subarray(Math.max(0, all.length - want));
  }

  dominant(ms: number): number {
    return dominantFrequency(this.heard(ms), MIX_SAMPLE_RATE);
  }

  /** Power of `freq` in the last `ms`, relative to a full-scale-ish reference (A=6000 gives ~1). */
  power(freq: number, ms: number): number {
    return goertzelPower(this.heard(ms), MIX_SAMPLE_RATE, freq) / ((6000 * 6000) / 16);
  }

  hangUp(): void {
    if (!this.open) return;
    this.open = false;
    clearInterval(this.timer);
    this.sock.close();
  }
}

/** One node as the control stand-in sees it (MediaHost's backplane methods, or an adapter). */
export interface MeshMember {
  readonly name: NodeId;
  openBackplane(conference: ConferenceId, peer: NodeId, options?: LinkOptions): Promise<BackplaneAddress>;
  connectBackplane(conference: ConferenceId, peer: NodeId, remote: BackplaneAddress, keys: LinkKeys): Promise<void> | void;
  setBackplaneStreams(conference: ConferenceId, peer: NodeId, streams: BackplaneStream[]): Promise<void> | void;
  closeBackplane(conference: ConferenceId, peer: NodeId): Promise<void>;
  /** Subscribes to the member's stream-list events. */
  onLocalStreams(fn: (conference: ConferenceId, peer: NodeId, streams: BackplaneStream[]) => void): () => void;
}

/**
 * The lead's part, reduced: opens both sides of a link, derives each side's keys from the secret
 * and fresh nonces, connects them, and carries every stream list to the other side in order
 * (a list sent before the far side's link exists is kept and delivered once it does).
 */
export class ControlStandIn {
  readonly errors: string[] = [];
  /** Lists delivered, per "from>to". */
  readonly delivered = new Map<string, BackplaneStream[]>();
  private readonly latest = new Map<string, BackplaneStream[]>();
  private readonly joined = new Set<string>();
  private readonly offs: Array<() => void> = [];
  /** Where a member sends its link's packets instead of the peer (a test relay), per "from>to". */
  readonly redirect = new Map<string, BackplaneAddress>();

  constructor(
    private readonly members: MeshMember[],
    private readonly secret = 'test-cluster-secret',
  ) {
    for (const m of members) {
      this.offs.push(
        m.onLocalStreams((conference, peer, streams) => {
          const key = `${conference}|${m.name}>${peer}`;
          this.latest.set(key, streams);
          if (this.joined.has(`${conference}|${[m.name, peer].sort().join('|')}`)) void this.deliver(conference, m.name, peer);
        }),
      );
    }
  }

  /** Sets up the link between a and b (both ends get `options`: its kind, a simulated WAN). */
  async join(conference: ConferenceId, a: NodeId, b: NodeId, options?: LinkOptions): Promise<void> {
    const [ma, mb] = [this.member(a), this.member(b)];
    const [addrA, addrB] = await Promise.all([ma.openBackplane(conference, b, options), mb.openBackplane(conference, a, options)]);
    const [nonceA, nonceB] = [newLinkNonce(), newLinkNonce()];
    const keysA = deriveLinkKeys({ secret: this.secret, conference, localNode: a, peerNode: b, localNonce: nonceA, peerNonce: nonceB });
    const keysB = deriveLinkKeys({ secret: this.secret, conference, localNode: b, peerNode: a, localNonce: nonceB, peerNonce: nonceA });
    await ma.connectBackplane(conference, b, this.redirect.get(`${a}>${b}`) ?? addrB, keysA);
    await mb.connectBackplane(conference, a, this.redirect.get(`${b}>${a}`) ?? addrA, keysB);
    this.joined.add(`${conference}|${[a, b].sort().join('|')}`);
    await Promise.all([this.deliver(conference, a, b), this.deliver(conference, b, a)]);
  }

  /** One side closes its link: the peer is told to retract what it had from it. */
  async leave(conference: ConferenceId, from: NodeId, to: NodeId): Promise<void> {
    await this.member(from).closeBackplane(conference, to);
    this.joined.delete(`${conference}|${[from, to].sort().join('|')}`);
    await this.member(to).setBackplaneStreams(conference, from, []);
  }

  close(): void {
    for (const off of this.offs.splice(0)) off();
  }

  private async deliver(conference: ConferenceId, from: NodeId, to: NodeId): Promise<void> {
    const streams = this.latest.get(`${conference}|${from}>${to}`);
    if (!streams) return;
    try {
      await this.member(to).setBackplaneStreams(conference, from, streams);
      this.delivered.set(`${from}>${to}`, streams);
    } catch (err) {
      this.errors.push(`${from}>${to}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private member(name: NodeId): MeshMember {
    const m = this.members.find((x) => x.name === name);
    if (!m) throw new Error(`no member ${name}`);
    return m;
  }
}
