/**
 * A scriptable SIP audio+video phone for tests that must look inside the media a SIP endpoint
 * receives (sipp cannot): INVITE over UDP with PCMU + H.264 (packetization-mode=1), sends a PCMU
 * tone on a talk schedule and H.264 from a real capture (looped; a PLI/FIR restarts it at its
 * keyframe), and records the headers of every video packet it receives. Loopback only.
 */
import type { Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isH264KeyframeStart } from '../../src/media/video/keyframe';
import { bindUdp, freePortRange } from './ports';
import { buildRequest, newBranch, newDialogIds, toTag, UdpSip, type DialogIds } from './sip-raw';
import { linearToUlaw } from './wav';

export interface ReceivedVideo {
  ssrc: number;
  sequence: number;
  timestamp: number;
  marker: boolean;
  keyframe: boolean;
  /** performance.now() at arrival. */
  at: number;
  /** Last payload byte: the sending phone's videoTag, so a test can tell whose video it is. */
  tag: number;
}

export interface AvPhoneOptions {
  sipPort: number;
  alias: string;
  toneHz: number;
  /** Whether the phone talks (sends the tone, else silence) at `ms` since the call started. */
  talking: (ms: number) => boolean;
  sendVideo: boolean;
  /** Appended to every video payload this phone sends (a marker, not video data). */
  videoTag?: number;
}

interface CapturedPacket {
  payload: Buffer;
  marker: boolean;
  /** 90 kHz timestamp relative to the first packet. */
  ts: number;
}

/** The RTP payloads of the project's real libx264 capture (PT 96, 15 fps, starts with SPS/PPS/IDR). */
export function h264Capture(): CapturedPacket[] {
  const d = readFileSync(join(__dirname, '..', 'fixtures', 'rtp', 'h264_video.pcap'));
  const out: CapturedPacket[] = [];
  let first = -1;
  for (let off = 24; off + 16 <= d.length; ) {
    const incl = d.readUInt32LE(off + 8);
    const rtp = d.subarray(off + 16 + 42, off + 16 + incl);
    off += 16 + incl;
    const ts = rtp.readUInt32BE(4);
    if (first < 0) first = ts;
    out.push({ payload: Buffer.from(rtp.subarray(12 + ((rtp[0] as number) & 0x0f) * 4)), marker: ((rtp[1] as number) & 0x80) !== 0, ts: (ts - first) >>> 0 });
  }
  return out;
}

function rtp(pt: number, marker: boolean, seq: number, ts: number, ssrc: number, payload: Buffer): Buffer {
  const b = Buffer.alloc(12 + payload.length);
  b[0] = 0x80;
  b[1] = (marker ? 0x80 : 0) | pt;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(ts >>> 0, 4);
  b.writeUInt32BE(ssrc >>> 0, 8);
  payload.copy(b, 12);
  return b;
}

export class AvPhone {
  readonly video: ReceivedVideo[] = [];
  audioPackets = 0;
  keyframeRequests = 0;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly ssrcA = (Math.random() * 2 ** 32) >>> 0;
  private readonly ssrcV = (Math.random() * 2 ** 32) >>> 0;
  private capIndex = 0;
  private started = 0;
  private remoteToTag: string | undefined;
  videoAnswered = false;

  private constructor(
    private readonly o: AvPhoneOptions,
    private readonly sip: UdpSip,
    private readonly ids: DialogIds,
    private readonly sockets: { audio: Socket; audioRtcp: Socket; video: Socket; videoRtcp: Socket },
    private readonly remote: { audio: number; video: number },
  ) {}

  static async call(o: AvPhoneOptions): Promise<AvPhone> {
    const range = await freePortRange(4);
    // The audio RTCP socket only holds its port, but it is kept so close() releases it (a bound socket keeps jest alive).
    const [audio, audioRtcp, video, videoRtcp] = await Promise.all([range.min, range.min + 1, range.min + 2, range.min + 3].map(bindUdp));
    if (!audio || !audioRtcp || !video || !videoRtcp) throw new Error('could not bind the phone sockets');
    const sip = await UdpSip.open();
    const ids = newDialogIds();
    const sdp = [
      'v=0', 'o=avphone 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
      `m=audio ${range.min} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', 'a=sendrecv',
      `m=video ${range.min + 2} RTP/AVP 96`, 'a=rtpmap:96 H264/90000', 'a=fmtp:96 profile-level-id=42e01f;packetization-mode=1',
      'a=rtcp-fb:96 nack pli', 'a=rtcp-fb:96 ccm fir', 'a=sendrecv', '',
    ].join('\r\n');
    const at = sip.received.length;
    await sip.send(buildRequest({ method: 'INVITE', user: o.alias, target: { port: o.sipPort }, local: { port: sip.port, transport: 'UDP' }, ids, body: sdp }), o.sipPort);
    const ok = await sip.expect((m) => m.status === 200, 5000, at);
    const audioPort = Number(/m=audio (\d+)/.exec(ok.body)?.[1]);
    const videoPort = Number(/m=video (\d+)/.exec(ok.body)?.[1] ?? 0);
    const phone = new AvPhone(o, sip, ids, { audio, audioRtcp, video, videoRtcp }, { audio: audioPort, video: videoPort });
    phone.remoteToTag = toTag(ok);
    phone.videoAnswered = videoPort > 0;
    await sip.send(buildRequest({ method: 'ACK', user: o.alias, target: { port: o.sipPort }, local: { port: sip.port, transport: 'UDP' }, ids: { ...ids, branch: newBranch() }, toTag: phone.remoteToTag }), o.sipPort);
    phone.start();
    return phone;
  }

  private start(): void {
    this.started = performance.now();
    const { audio, video, videoRtcp } = this.sockets;
    audio.on('message', () => this.audioPackets++);
    video.on('message', (b: Buffer) => {
      if (b.length < 12 || ((b[1] as number) >= 192 && (b[1] as number) <= 223)) return; // RTCP (RFC 5761)
      const cc = (b[0] as number) & 0x0f;
      this.video.push({
        ssrc: b.readUInt32BE(8),
        sequence: b.readUInt16BE(2),
        timestamp: b.readUInt32BE(4),
        marker: ((b[1] as number) & 0x80) !== 0,
        keyframe: isH264KeyframeStart(b.subarray(12 + cc * 4)),
        at: performance.now(),
        tag: b[b.length - 1] as number,
      });
    });
    // PSFB (206) FMT 1 (PLI) or 4 (FIR), alone or in a compound: restart the capture at its keyframe.
    videoRtcp.on('message', (b: Buffer) => {
      for (let i = 0; i + 4 <= b.length; ) {
        const fmt = (b[i] as number) & 0x1f;
        if (b[i + 1] === 206 && (fmt === 1 || fmt === 4)) {
          this.keyframeRequests++;
          this.capIndex = 0;
        }
        i += (b.readUInt16BE(i + 2) + 1) * 4;
      }
    });
    let aSeq = 0;
    let aTs = 0;
    let phase = 0;
    this.timers.push(
      setInterval(() => {
        const talking = this.o.talking(performance.now() - this.started);
        const frame = Buffer.alloc(160);
        for (let i = 0; i < 160; i++) {
          frame[i] = talking ? linearToUlaw(8000 * Math.sin(phase)) : 0xff;
          phase += (2 * Math.PI * this.o.toneHz) / 8000;
        }
        audio.send(rtp(0, false, aSeq++, aTs, this.ssrcA, frame), this.remote.audio, '127.0.0.1');
        aTs += 160;
      }, 20),
    );
    if (this.o.sendVideo && this.remote.video > 0) {
      const cap = h264Capture();
      let vSeq = 0;
      let base = 0;
      let lastTs = 0;
      // One frame (all packets with one timestamp) every 66 ms.
      this.timers.push(
        setInterval(() => {
          if (this.capIndex >= cap.length) this.capIndex = 0;
          if (this.capIndex === 0) base = lastTs + 6000;
          const frameTs = cap[this.capIndex]?.ts ?? 0;
          while (this.capIndex < cap.length && cap[this.capIndex]?.ts === frameTs) {
            const p = cap[this.capIndex++] as CapturedPacket;
            lastTs = base + p.ts;
            const payload = Buffer.concat([p.payload, Buffer.from([this.o.videoTag ?? 0])]);
            video.send(rtp(96, p.marker, vSeq++, lastTs, this.ssrcV, payload), this.remote.video, '127.0.0.1');
          }
        }, 66),
      );
    }
  }

  async hangup(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    const at = this.sip.received.length;
    const ids = { ...this.ids, branch: newBranch(), cseq: this.ids.cseq + 1 };
    await this.sip.send(buildRequest({ method: 'BYE', user: this.o.alias, target: { port: this.o.sipPort }, local: { port: this.sip.port, transport: 'UDP' }, ids, toTag: this.remoteToTag }), this.o.sipPort);
    await this.sip.expect((m) => m.status === 200, 3000, at).catch(() => undefined);
    this.close();
  }

  close(): void {
    for (const t of this.timers) clearInterval(t);
    for (const s of Object.values(this.sockets)) {
      try {
        s.close();
      } catch {
        // already closed
      }
    }
    this.sip.close();
  }
}
