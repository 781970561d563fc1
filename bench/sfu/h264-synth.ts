/**
 * A synthetic H.264 stream for the forwarding bench (RFC 6184 single NAL unit packets): fixed
 * packets per frame and payload size, a keyframe (SPS, PPS, IDR slices) every N seconds and at
 * once after a PLI/FIR, other frames made of non-IDR slices. Nothing decodes it: the node only
 * looks at NAL types (keyframe detection), so the slice bytes are filler. No sockets, no clock.
 */

export interface SynthOptions {
  packetsPerFrame: number;
  fps: number;
  /** Payload bytes of each slice packet (SPS/PPS packets are small, as in real streams). */
  payloadBytes: number;
  keyframeEverySeconds: number;
}

export interface SynthPacket {
  payload: Buffer;
  marker: boolean;
  timestamp: number;
  keyframe: boolean;
}

const NAL_SLICE = 1;
const NAL_IDR = 5;
const NAL_SPS = 7;
const NAL_PPS = 8;

function nal(type: number, size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  b[0] = 0x60 | type; // nal_ref_idc 3
  for (let i = 1; i < size; i++) b[i] = (seed + i * 31) & 0xff;
  return b;
}

export class SyntheticH264 {
  private readonly sps = nal(NAL_SPS, 12, 1);
  private readonly pps = nal(NAL_PPS, 5, 2);
  private readonly idr: Buffer;
  private readonly slice: Buffer;
  private frame = 0;
  private inFrame = 0;
  private frameIsKey = true;
  private forceKey = false;
  keyframesSent = 0;

  constructor(private readonly o: SynthOptions) {
    this.idr = nal(NAL_IDR, o.payloadBytes, 3);
    this.slice = nal(NAL_SLICE, o.payloadBytes, 4);
  }

  /** Packets per second this stream produces. */
  get rate(): number {
    return this.o.packetsPerFrame * this.o.fps;
  }

  /** A receiver lost the picture: the next frame starts with SPS/PPS/IDR. */
  requestKeyframe(): void {
    this.forceKey = true;
  }

  next(): SynthPacket {
    if (this.inFrame === 0) {
      const periodic = this.frame % Math.max(1, Math.round(this.o.fps * this.o.keyframeEverySeconds)) === 0;
      this.frameIsKey = periodic || this.forceKey;
      this.forceKey = false;
      if (this.frameIsKey) this.keyframesSent++;
    }
    const i = this.inFrame;
    const n = Math.max(3, this.o.packetsPerFrame);
    let payload: Buffer;
    if (this.frameIsKey) payload = i === 0 ? this.sps : i === 1 ? this.pps : this.idr;
    else payload = this.slice;
    const marker = i === n - 1;
    const pkt = { payload, marker, timestamp: (this.frame * Math.round(90000 / this.o.fps)) >>> 0, keyframe: this.frameIsKey && i === 0 };
    if (marker) {
      this.inFrame = 0;
      this.frame++;
    } else {
      this.inFrame++;
    }
    return pkt;
  }
}

/** A complete RTP packet (RFC 3550 fixed header, no CSRC, no extension). */
export function rtpPacket(pt: number, marker: boolean, seq: number, ts: number, ssrc: number, payload: Buffer): Buffer {
  const b = Buffer.allocUnsafe(12 + payload.length);
  b[0] = 0x80;
  b[1] = (marker ? 0x80 : 0) | (pt & 0x7f);
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(ts >>> 0, 4);
  b.writeUInt32BE(ssrc >>> 0, 8);
  payload.copy(b, 12);
  return b;
}
