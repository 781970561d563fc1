import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isH264KeyframeStart, isKeyframeStart, isVp8KeyframeStart } from './keyframe';

/** RTP payloads (PT 96) of a real libx264 call captured by sipp's project (Ethernet/IPv4/UDP). */
function h264CapturePayloads(): Buffer[] {
  const d = readFileSync(join(__dirname, '../../../test/fixtures/rtp/h264_video.pcap'));
  const out: Buffer[] = [];
  for (let off = 24; off + 16 <= d.length; ) {
    const incl = d.readUInt32LE(off + 8);
    const pkt = d.subarray(off + 16, off + 16 + incl);
    off += 16 + incl;
    const rtp = pkt.subarray(42);
    const cc = (rtp[0] as number) & 0x0f;
    out.push(rtp.subarray(12 + cc * 4));
  }
  return out;
}

describe('keyframe detection', () => {
  it('finds the SPS/IDR that starts the real H.264 capture, and not in its P-frames', () => {
    const payloads = h264CapturePayloads();
    expect(payloads.length).toBe(123);
    const keys = payloads.map((p) => isH264KeyframeStart(p));
    expect(keys[0]).toBe(true);
    expect(keys.filter(Boolean).length).toBeGreaterThan(0);
    expect(keys.filter(Boolean).length).toBeLessThan(payloads.length / 4);
  });

  it.each([
    ['single IDR NAL', [0x65, 0x88], true],
    ['single SPS NAL', [0x67, 0x42], true],
    ['single non-IDR slice', [0x41, 0x9a], false],
    ['STAP-A with SPS+PPS', [0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce], true],
    ['STAP-A with a bad size', [0x78, 0x00, 0x09, 0x67], false],
    ['FU-A start of an IDR', [0x7c, 0x85, 0x00], true],
    ['FU-A middle of an IDR', [0x7c, 0x05, 0x00], false],
    ['FU-A start of a P slice', [0x7c, 0x81, 0x00], false],
    ['empty', [], false],
  ])('H.264 %s -> %s', (_n, bytes, key) => {
    expect(isKeyframeStart('H264', Uint8Array.from(bytes))).toBe(key);
  });

  it.each([
    ['key frame, no extension', [0x10, 0x00, 0x9d, 0x01, 0x2a], true],
    ['inter frame', [0x10, 0x01], false],
    ['key frame with 15-bit PictureID', [0x90, 0x80, 0x81, 0x23, 0x00], true],
    ['key frame with 7-bit PictureID and TL0PICIDX', [0x90, 0xc0, 0x12, 0x05, 0x00], true],
    ['continuation packet of a key frame', [0x00, 0x00], false],
    ['truncated extension', [0x90], false],
  ])('VP8 %s -> %s', (_n, bytes, key) => {
    expect(isVp8KeyframeStart(Uint8Array.from(bytes))).toBe(key);
  });
});
