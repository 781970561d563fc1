/**
 * The SIP endpoints of the geo bench: PCMU audio (a tone while it is the conference's speaker,
 * silence otherwise) and H.264 video whose every packet carries its sender's index and send time
 * (wall clock, sub-ms). The node forwards a SIP viewer the current speaker's video untouched
 * (voice switching rewrites only the RTP header), so the payload survives the whole media path:
 * caller -> its media node -> geo backplane -> the far proxy -> the viewer. Arrival times are the
 * kernel's (rtpio sockets bound with timestamps), so the generator's own event loop adds nothing.
 * Sending is driven by the bench's one pacer; nothing here allocates a timer per phone.
 */
import { bindRtpSocket, type RtpSocket } from '../../src/media/rtp/udp-io';
import { freePortRange } from '../../test/helpers/ports';
import { linearToUlaw } from '../../test/helpers/wav';
import { rtpPacket } from '../sfu/h264-synth';
import { firstPt, sipCall, type SipDialog } from '../sfu/sip-phone';

/** A 20 ms PCMU frame of a loud 500 Hz tone (10 whole periods) and one of silence. */
const TONE = Buffer.from(Array.from({ length: 160 }, (_, i) => linearToUlaw(Math.round(12000 * Math.sin((2 * Math.PI * 500 * i) / 8000)))));
const SILENCE = Buffer.alloc(160, 0xff);
const NAL_IDR = 0x65;
const NAL_SLICE = 0x41;
/** NAL header, sender index (u16), send time (f64 wall ms), filler. */
const VIDEO_PAYLOAD = 200;

/** Wall-clock ms with sub-ms resolution (the kernel timestamps of arrivals are wall clock too). */
export const wallMs = (): number => performance.timeOrigin + performance.now();

function offer(audioPort: number, videoPort: number): string {
  return [
    'v=0', 'o=geophone 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
    `m=audio ${audioPort} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', 'a=sendrecv',
    `m=video ${videoPort} RTP/AVP 96`, 'a=rtpmap:96 H264/90000', 'a=fmtp:96 profile-level-id=42e01f;packetization-mode=1',
    'a=rtcp-fb:96 nack pli', 'a=rtcp-fb:96 ccm fir', 'a=rtcp-mux', 'a=sendrecv', '',
  ].join('\r\n');
}

async function bind(port: number): Promise<RtpSocket> {
  const r = await bindRtpSocket('127.0.0.1', port, { bufferBytes: 1 << 20, timestamps: true });
  if ('error' in r) throw r.error;
  return r.socket;
}

export class GeoPhone {
  /** Latency samples (arrival - send, ms) of each sender's video, by sender index. */
  readonly samples = new Map<number, number[]>();
  /** The sender whose video arrived last (who this viewer is shown). */
  showing = -1;
  speaking = false;
  videoReceived = 0;
  keyframeRequests = 0;
  private aSeq = 0;
  private aTs = 0;
  private vSeq = 0;
  private frame = 0;
  private wantKeyframe = true;
  private recording = false;
  private closed = false;
  private readonly ssrcA = (Math.random() * 2 ** 32) >>> 0;
  private readonly ssrcV = (Math.random() * 2 ** 32) >>> 0;
  private readonly payload = Buffer.alloc(VIDEO_PAYLOAD);

  private constructor(
    readonly index: number,
    private readonly dialog: SipDialog,
    private readonly audio: RtpSocket,
    private readonly video: RtpSocket,
    private readonly remote: { audio: number; video: number; videoPt: number },
  ) {
    video.onMessage = (msg, _a, _p, arrivalMs) => this.onVideo(msg, arrivalMs ?? wallMs());
    audio.onMessage = () => undefined;
  }

  static async call(sipPort: number, alias: string, index: number): Promise<GeoPhone> {
    const range = await freePortRange(4);
    const audio = await bind(range.min);
    const video = await bind(range.min + 2).catch(async (e: unknown) => {
      await audio.close();
      throw e;
    });
    try {
      const dialog = await sipCall(sipPort, alias, offer(range.min, range.min + 2));
      const a = firstPt(dialog.answer, 'audio');
      const v = firstPt(dialog.answer, 'video');
      if (!a || !v || v.port === 0) {
        dialog.close();
        throw new Error(`no usable audio and video in the answer: ${dialog.answer.replace(/\r\n/g, ' | ')}`);
      }
      return new GeoPhone(index, dialog, audio, video, { audio: a.port, video: v.port, videoPt: v.pt });
    } catch (e) {
      await Promise.all([audio.close(), video.close()]);
      throw e;
    }
  }

  /** Samples are kept only while recording (after a switch has settled). */
  record(on: boolean): void {
    this.recording = on;
  }

  /** One 20 ms audio frame. */
  sendAudio(): void {
    if (this.closed) return;
    this.audio.send(rtpPacket(0, false, this.aSeq++, this.aTs, this.ssrcA, this.speaking ? TONE : SILENCE), this.remote.audio, '127.0.0.1');
    this.aTs = (this.aTs + 160) >>> 0;
  }

  /** One video frame (one packet), a keyframe when asked for or every `keyEvery` frames. */
  sendVideo(keyEvery: number): void {
    if (this.closed) return;
    const key = this.wantKeyframe || this.frame % keyEvery === 0;
    this.wantKeyframe = false;
    const p = this.payload;
    p[0] = key ? NAL_IDR : NAL_SLICE;
    p.writeUInt16BE(this.index, 1);
    p.writeDoubleBE(wallMs(), 3);
    this.video.send(rtpPacket(this.remote.videoPt, true, this.vSeq++, (this.frame++ * 9000) >>> 0, this.ssrcV, p), this.remote.video, '127.0.0.1');
  }

  private onVideo(msg: Buffer, arrivalMs: number): void {
    const second = msg[1] ?? 0;
    if (second >= 192 && second <= 223) {
      // RTCP (muxed): a PLI or FIR asks for a keyframe.
      for (let i = 0, guard = 0; i + 4 <= msg.length && guard < 32; guard++) {
        const fmt = (msg[i] as number) & 0x1f;
        if (msg[i + 1] === 206 && (fmt === 1 || fmt === 4)) {
          this.keyframeRequests++;
          this.wantKeyframe = true;
        }
        i += (msg.readUInt16BE(i + 2) + 1) * 4;
      }
      return;
    }
    const cc = (msg[0] ?? 0) & 0x0f;
    const off = 12 + cc * 4;
    if (msg.length < off + 11) return;
    this.videoReceived++;
    const sender = msg.readUInt16BE(off + 1);
    this.showing = sender;
    if (!this.recording || sender === this.index) return;
    let list = this.samples.get(sender);
    if (!list) this.samples.set(sender, (list = []));
    list.push(arrivalMs - msg.readDoubleBE(off + 3));
  }

  async hangup(): Promise<void> {
    if (this.closed) return;
    await this.dialog.bye();
    await this.close();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.dialog.close();
    await Promise.all([this.audio.close(), this.video.close()]);
  }
}
