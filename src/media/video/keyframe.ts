/**
 * Keyframe detection on RTP payloads (pure): does this packet start a frame a decoder can start
 * from? H.264 (RFC 6184: single NAL, STAP-A, FU-A start) with an IDR or SPS; VP8 (RFC 7741:
 * start of partition 0 with the key-frame bit clear). Never throws on short or odd payloads.
 */

export type VideoCodecName = 'H264' | 'VP8';

const H264_IDR = 5;
const H264_SPS = 7;
const H264_STAP_A = 24;
const H264_FU_A = 28;

function isH264KeyNal(type: number): boolean {
  return type === H264_IDR || type === H264_SPS;
}

export function isH264KeyframeStart(p: Uint8Array): boolean {
  if (p.length < 1) return false;
  const type = (p[0] as number) & 0x1f;
  if (type === H264_STAP_A) {
    // Aggregated NALs: 16-bit size then the NAL, repeated.
    let i = 1;
    while (i + 2 < p.length) {
      const size = ((p[i] as number) << 8) | (p[i + 1] as number);
      if (size === 0 || i + 2 + size > p.length) return false;
      if (isH264KeyNal((p[i + 2] as number) & 0x1f)) return true;
      i += 2 + size;
    }
    return false;
  }
  if (type === H264_FU_A) {
    if (p.length < 2) return false;
    const fuHeader = p[1] as number;
    return (fuHeader & 0x80) !== 0 && isH264KeyNal(fuHeader & 0x1f);
  }
  return isH264KeyNal(type);
}

export function isVp8KeyframeStart(p: Uint8Array): boolean {
  if (p.length < 1) return false;
  const b0 = p[0] as number;
  const start = (b0 & 0x10) !== 0;
  const partition = b0 & 0x0f;
  if (!start || partition !== 0) return false;
  let i = 1;
  if (b0 & 0x80) {
    // X: extension byte with I, L, T, K flags.
    if (p.length < 2) return false;
    const x = p[1] as number;
    i = 2;
    if (x & 0x80) i += p.length > i && ((p[i] as number) & 0x80) ? 2 : 1; // PictureID, 7 or 15 bits
    if (x & 0x40) i += 1; // TL0PICIDX
    if (x & 0x30) i += 1; // TID / KEYIDX
  }
  if (i >= p.length) return false;
  // VP8 payload header: P bit (bit 0 of the first byte) is 0 for a key frame.
  return ((p[i] as number) & 0x01) === 0;
}

export function isKeyframeStart(codec: VideoCodecName, payload: Uint8Array): boolean {
  return codec === 'H264' ? isH264KeyframeStart(payload) : isVp8KeyframeStart(payload);
}
