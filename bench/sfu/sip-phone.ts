/**
 * The SIP endpoints of the forwarding bench: a minimal UDP phone with PCMU audio and H.264 video
 * (RFC 6184 packetization-mode=1), either the video source (sendonly video, tells the bench when
 * the node asks for a keyframe) or a viewer (recvonly video, counts what arrives). Sending is
 * driven by the bench's pacers (one timer for all phones), never by a timer per phone. Counters
 * only on the packet path. Loopback only; every SIP wait is bounded.
 */
import type { Socket } from 'node:dgram';
import { bindUdp, freePortRange } from '../../test/helpers/ports';
import { buildRequest, newBranch, newDialogIds, toTag, UdpSip, type DialogIds } from '../../test/helpers/sip-raw';
import { linearToUlaw } from '../../test/helpers/wav';
import { rtpPacket } from './h264-synth';

export type PhoneRole = 'source' | 'viewer';

export interface PhoneOptions {
  sipPort: number;
  alias: string;
  role: PhoneRole;
}

/** One 20 ms PCMU frame of a 400 Hz tone (exactly 8 periods, so it loops without a click). */
const TONE_FRAME = Buffer.from(Array.from({ length: 160 }, (_, i) => linearToUlaw(Math.round(8000 * Math.sin((2 * Math.PI * 400 * i) / 8000)))));
const SILENCE_FRAME = Buffer.alloc(160, 0xff);

/** First payload type of the m-line of `kind` in an SDP body. */
export function firstPt(sdp: string, kind: 'audio' | 'video'): { port: number; pt: number } | undefined {
  const m = new RegExp(`^m=${kind} (\\d+) RTP/AVP (\\d+)`, 'm').exec(sdp);
  return m ? { port: Number(m[1]), pt: Number(m[2]) } : undefined;
}

function offer(role: PhoneRole, audioPort: number, videoPort: number): string {
  return [
    'v=0', 'o=benchphone 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
    `m=audio ${audioPort} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', 'a=sendrecv',
    `m=video ${videoPort} RTP/AVP 96`, 'a=rtpmap:96 H264/90000', 'a=fmtp:96 profile-level-id=42e01f;packetization-mode=1',
    'a=rtcp-fb:96 nack pli', 'a=rtcp-fb:96 ccm fir', role === 'source' ? 'a=sendonly' : 'a=recvonly', '',
  ].join('\r\n');
}

export class BenchPhone {
  videoReceived = 0;
  audioReceived = 0;
  keyframeRequests = 0;
  /** Set by the bench: called on every PLI/FIR the node sends this phone. */
  onKeyframeRequest: (() => void) | null = null;
  private aSeq = 0;
  private aTs = 0;
  private vSeq = 0;
  private readonly ssrcA = (Math.random() * 2 ** 32) >>> 0;
  private readonly ssrcV = (Math.random() * 2 ** 32) >>> 0;
  private closed = false;

  private constructor(
    private readonly o: PhoneOptions,
    private readonly dialog: SipDialog,
    private readonly sockets: Socket[],
    private readonly remote: { audio: number; video: number; videoPt: number },
  ) {}

  /** INVITE/200/ACK; the phone's sockets are bound before the offer names them. */
  static async call(o: PhoneOptions): Promise<BenchPhone> {
    const range = await freePortRange(4);
    const sockets = await Promise.all([range.min, range.min + 2, range.min + 3].map(bindUdp));
    try {
      const dialog = await sipCall(o.sipPort, o.alias, offer(o.role, range.min, range.min + 2));
      const audio = firstPt(dialog.answer, 'audio');
      const video = firstPt(dialog.answer, 'video');
      if (!audio || !video || video.port === 0) {
        dialog.close();
        throw new Error(`the answer has no usable audio and video: ${dialog.answer.replace(/\r\n/g, ' | ')}`);
      }
      const phone = new BenchPhone(o, dialog, sockets, { audio: audio.port, video: video.port, videoPt: video.pt });
      phone.listen();
      return phone;
    } catch (e) {
      for (const s of sockets) s.close();
      throw e;
    }
  }

  private listen(): void {
    const [audio, video, videoRtcp] = this.sockets as [Socket, Socket, Socket];
    audio.on('message', () => this.audioReceived++);
    video.on('message', (b: Buffer) => {
      const second = b[1] ?? 0;
      if (b.length >= 12 && !(second >= 192 && second <= 223)) this.videoReceived++; // RFC 5761: skip RTCP
    });
    // PSFB (PT 206) FMT 1 = PLI, FMT 4 = FIR, alone or inside a compound packet.
    videoRtcp.on('message', (b: Buffer) => {
      for (let i = 0, guard = 0; i + 4 <= b.length && guard < 32; guard++) {
        const fmt = (b[i] as number) & 0x1f;
        if (b[i + 1] === 206 && (fmt === 1 || fmt === 4)) {
          this.keyframeRequests++;
          this.onKeyframeRequest?.();
        }
        i += (b.readUInt16BE(i + 2) + 1) * 4;
      }
    });
  }

  /** One 20 ms audio frame: the tone for the source (the active speaker), silence for viewers. */
  sendAudio(): void {
    if (this.closed) return;
    const frame = this.o.role === 'source' ? TONE_FRAME : SILENCE_FRAME;
    (this.sockets[0] as Socket).send(rtpPacket(0, false, this.aSeq++, this.aTs, this.ssrcA, frame), this.remote.audio, '127.0.0.1');
    this.aTs = (this.aTs + 160) >>> 0;
  }

  /** One video packet towards the node (source only). */
  sendVideo(payload: Buffer, marker: boolean, timestamp: number): void {
    if (this.closed) return;
    (this.sockets[1] as Socket).send(rtpPacket(this.remote.videoPt, marker, this.vSeq++, timestamp, this.ssrcV, payload), this.remote.video, '127.0.0.1');
  }

  /** BYE (bounded wait for its 200), then closes every socket. */
  async hangup(): Promise<void> {
    if (this.closed) return;
    await this.dialog.bye();
    this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.sockets) {
      try {
        s.close();
      } catch {
        // already closed
      }
    }
    this.dialog.close();
  }
}

/** A UAC dialog of a bench phone: the SDP answer, and how to end it. */
export interface SipDialog {
  answer: string;
  /** BYE with a bounded wait for its answer (the node may be gone: then it just returns). */
  bye(): Promise<void>;
  close(): void;
}

/** INVITE (with `offerSdp`), the final answer (200 expected, else throws), ACK. Every wait is bounded. */
export async function sipCall(sipPort: number, alias: string, offerSdp: string): Promise<SipDialog> {
  const sip = await UdpSip.open();
  try {
    const ids: DialogIds = newDialogIds();
    const local = { port: sip.port, transport: 'UDP' as const };
    const at = sip.received.length;
    await sip.send(buildRequest({ method: 'INVITE', user: alias, target: { port: sipPort }, local, ids, body: offerSdp }), sipPort);
    const ok = await sip.expect((m) => m.status >= 200, 8000, at);
    if (ok.status !== 200) throw new Error(`INVITE got ${ok.startLine}`);
    const tag = toTag(ok);
    await sip.send(buildRequest({ method: 'ACK', user: alias, target: { port: sipPort }, local, ids: { ...ids, branch: newBranch() }, ...(tag ? { toTag: tag } : {}) }), sipPort);
    return {
      answer: ok.body,
      bye: async () => {
        const before = sip.received.length;
        try {
          await sip.send(buildRequest({ method: 'BYE', user: alias, target: { port: sipPort }, local, ids: { ...ids, branch: newBranch(), cseq: ids.cseq + 1 }, ...(tag ? { toTag: tag } : {}) }), sipPort);
          await sip.expect((m) => m.status >= 200, 2000, before);
        } catch {
          // the node may be gone already: closing our side is all that is left
        }
      },
      close: () => sip.close(),
    };
  } catch (e) {
    sip.close();
    throw e;
  }
}
