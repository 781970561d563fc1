import { ConfnodeError } from '../../common';
import { buildAnswer, buildOffer } from './build';
import { negotiateAnswer, negotiateOffer, type NegotiateOptions } from './negotiate';
import type { CodecCapability, LocalSdesKey, SrtpPolicy } from './types';

const CAPS: CodecCapability[] = [
  { name: 'opus', clockRate: 48000, channels: 2, dynamicPayloadType: 111 },
  { name: 'PCMU', clockRate: 8000, channels: 1, staticPayloadType: 0 },
];
const sdp = (...lines: string[]): string => lines.join('\r\n') + '\r\n';
const HEAD = ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0'];
// Keys from RFC 4568's examples (40 base64 characters: key 16 || salt 14).
const THEIR_80 = 'WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz';
const THEIR_32 = 'NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj';
const OURS: LocalSdesKey = { suite: 'AES_CM_128_HMAC_SHA1_80', key: 'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk' };
const OURS_32: LocalSdesKey = { suite: 'AES_CM_128_HMAC_SHA1_32', key: 'ZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3' };
const OURS_VIDEO: LocalSdesKey = { suite: 'AES_CM_128_HMAC_SHA1_80', key: 'MDEyMzQ1Njc4OWFiY2RlZmdoaWprbG1ub3BxcnN0' };
const ORIGIN = { sessionId: '7', version: 1 };
const LOCAL = { address: '127.0.0.1', port: 40000, rtcpPort: 40001, rtcpMux: false };

const savp = (port = 4000, ...crypto: string[]): string[] => [`m=audio ${port} RTP/SAVP 0`, ...crypto];
const avp = (port = 4002): string[] => [`m=audio ${port} RTP/AVP 0`];
const c80 = `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${THEIR_80}`;

function refused(offer: string, options: NegotiateOptions): string {
  try {
    negotiateOffer(offer, CAPS, options);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfnodeError);
    expect((err as ConfnodeError).code).toBe('no-common-codec'); // SIP 488 Not Acceptable Here
    return (err as Error).message;
  }
  throw new Error('the offer was accepted');
}

describe('SDES-SRTP negotiation (RFC 4568) under media.sip_srtp', () => {
  it('RTP/SAVP with AES_CM_128_HMAC_SHA1_80 is answered RTP/SAVP with the same tag and suite and OUR key, never theirs', () => {
    const n = negotiateOffer(sdp(...HEAD, ...savp(4000, c80)), CAPS, { srtp: 'optional' });
    expect(n.audio).toMatchObject({ profile: 'RTP/SAVP', crypto: { tag: 1, suite: 'AES_CM_128_HMAC_SHA1_80', key: THEIR_80 } });
    const answer = buildAnswer({ origin: ORIGIN, local: LOCAL, negotiation: n, localKeys: { audio: OURS } });
    expect(answer).toContain('m=audio 40000 RTP/SAVP 0\r\n');
    expect(answer).toContain(`a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${OURS.key}\r\n`);
    expect(answer).not.toContain(THEIR_80);
    // Our answer reads back as SRTP with our key (what the phone will decrypt with).
    expect(negotiateAnswer(answer, CAPS, { srtp: 'required' }).audio.crypto).toEqual({ tag: 1, suite: 'AES_CM_128_HMAC_SHA1_80', key: OURS.key });
  });

  it('picks the first line it can honour: skips unknown suites, MKI, several keys and session parameters; _32 is accepted', () => {
    const offer = sdp(
      ...HEAD,
      ...savp(4000,
        `a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:${THEIR_80}${THEIR_80}`,
        `a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:${THEIR_80}|2^20|1:4`,
        `a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:${THEIR_80} KDR=1`,
        `a=crypto:4 AES_CM_128_HMAC_SHA1_80 inline:${THEIR_80};inline:${THEIR_32}`,
        `a=crypto:5 AES_CM_128_HMAC_SHA1_80 inline:${THEIR_80.slice(1)}`,
        `a=crypto:6 AES_CM_128_HMAC_SHA1_32 inline:${THEIR_32}|2^31`,
        c80),
    );
    const n = negotiateOffer(offer, CAPS, { srtp: 'required' });
    expect(n.audio.crypto).toEqual({ tag: 6, suite: 'AES_CM_128_HMAC_SHA1_32', key: THEIR_32 });
    const answer = buildAnswer({ origin: ORIGIN, local: LOCAL, negotiation: n, localKeys: { audio: OURS_32 } });
    expect(answer).toContain(`a=crypto:6 AES_CM_128_HMAC_SHA1_32 inline:${OURS_32.key}\r\n`);
    expect(answer.match(/a=crypto/g)).toHaveLength(1);
  });

  it("'required': a plain RTP/AVP offer gets 488; RTP/SAVP without a usable a=crypto too, and the reason never holds a key", () => {
    expect(refused(sdp(...HEAD, ...avp()), { srtp: 'required' })).toMatch(/SRTP required \(media\.sip_srtp: required\)/);
    expect(refused(sdp(...HEAD, ...savp()), { srtp: 'required' })).toMatch(/RTP\/SAVP without a=crypto/);
    const why = refused(sdp(...HEAD, ...savp(4000, `a=crypto:1 F8_128_HMAC_SHA1_80 inline:${THEIR_80}`)), { srtp: 'optional' });
    expect(why).toMatch(/no acceptable a=crypto/);
    expect(why).not.toContain(THEIR_80);
  });

  it("'off': an SRTP-only offer gets 488; with plain RTP offered beside it, the plain line is taken and the SRTP line rejected (port 0)", () => {
    expect(refused(sdp(...HEAD, ...savp(4000, c80)), { srtp: 'off' })).toMatch(/SRTP not accepted here/);
    const n = negotiateOffer(sdp(...HEAD, ...savp(4000, c80), ...avp(4002)), CAPS, { srtp: 'off' });
    expect(n.audio).toMatchObject({ mid: 1, profile: 'RTP/AVP', remote: { rtpPort: 4002 } });
    expect(n.audio.crypto).toBeUndefined();
    const answer = buildAnswer({ origin: ORIGIN, local: LOCAL, negotiation: n });
    expect(answer).toContain('m=audio 0 RTP/SAVP 0\r\nm=audio 40000 RTP/AVP 0\r\n');
    expect(answer).not.toContain('a=crypto');
  });

  it.each<[SrtpPolicy, number, boolean]>([
    ['optional', 0, true],
    ['required', 0, true],
    ['off', 1, false],
  ])("both offered (SRTP first) under '%s': m-line %d is taken, SRTP %s", (policy, mid, secure) => {
    const n = negotiateOffer(sdp(...HEAD, ...savp(4000, c80), ...avp(4002)), CAPS, { srtp: policy });
    expect({ mid: n.audio.mid, secure: n.audio.crypto !== undefined }).toEqual({ mid, secure });
  });

  it("'required' with the plain line offered first takes the SRTP line after it", () => {
    const n = negotiateOffer(sdp(...HEAD, ...avp(4002), ...savp(4000, c80)), CAPS, { srtp: 'required' });
    expect(n.audio).toMatchObject({ mid: 1, profile: 'RTP/SAVP', crypto: { tag: 1 } });
    expect(n.media[0]).toMatchObject({ kind: 'rejected', reason: 'SRTP required (media.sip_srtp: required)' });
  });

  it("best-effort SRTP (RTP/AVP with a=crypto) is SRTP unless 'off', answered RTP/AVP with our a=crypto", () => {
    const offer = sdp(...HEAD, 'm=audio 4000 RTP/AVP 0', c80);
    const n = negotiateOffer(offer, CAPS, { srtp: 'optional' });
    expect(n.audio.crypto?.key).toBe(THEIR_80);
    const answer = buildAnswer({ origin: ORIGIN, local: LOCAL, negotiation: n, localKeys: { audio: OURS } });
    expect(answer).toContain('m=audio 40000 RTP/AVP 0\r\n');
    expect(answer).toContain(`a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${OURS.key}`);
    expect(negotiateOffer(offer, CAPS, { srtp: 'required' }).audio.crypto).toBeDefined();
    const plain = negotiateOffer(offer, CAPS, { srtp: 'off' });
    expect(plain.audio.crypto).toBeUndefined();
    expect(buildAnswer({ origin: ORIGIN, local: LOCAL, negotiation: plain })).not.toContain('a=crypto');
  });

  it('the default policy (no option) is off, as before SRTP existed', () => {
    expect(refused(sdp(...HEAD, ...savp(4000, c80)), {})).toMatch(/SRTP not accepted here/);
  });

  it('video gets its own key; plain video beside SRTP audio under required is rejected with a reason', () => {
    const videoLines = (profile: string, ...extra: string[]): string[] => [
      `m=video 4010 ${profile} 96`, ...extra, 'a=rtpmap:96 H264/90000', 'a=fmtp:96 packetization-mode=1;profile-level-id=42e01f',
    ];
    const v80 = `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${THEIR_32}`;
    const n = negotiateOffer(sdp(...HEAD, ...savp(4000, c80), ...videoLines('RTP/SAVP', v80)), CAPS, { srtp: 'required', videoCodec: 'H264' });
    expect(n.video).toMatchObject({ profile: 'RTP/SAVP', crypto: { key: THEIR_32 } });
    const answer = buildAnswer({
      origin: ORIGIN, local: LOCAL, negotiation: n,
      localVideo: { address: '127.0.0.1', port: 40002, rtcpPort: 40003 },
      localKeys: { audio: OURS, video: OURS_VIDEO },
    });
    expect(answer).toMatch(new RegExp(`m=video 40002 RTP/SAVP 96\\r\\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${OURS_VIDEO.key}\\r\\n`));
    const mixed = negotiateOffer(sdp(...HEAD, ...savp(4000, c80), ...videoLines('RTP/AVP')), CAPS, { srtp: 'required', videoCodec: 'H264' });
    expect(mixed.video).toBeUndefined();
    expect(mixed.videoRejectedReason).toBe('SRTP required (media.sip_srtp: required)');
  });

  it('an answer for a keyed line without our key of that suite is a bug, not a plain answer', () => {
    const n = negotiateOffer(sdp(...HEAD, ...savp(4000, c80)), CAPS, { srtp: 'optional' });
    expect(() => buildAnswer({ origin: ORIGIN, local: LOCAL, negotiation: n })).toThrow(/no local SRTP key/);
    expect(() => buildAnswer({ origin: ORIGIN, local: LOCAL, negotiation: n, localKeys: { audio: OURS_32 } })).toThrow(/no local SRTP key/);
  });

  it('our offer (offerless INVITE) with a key is RTP/SAVP with one a=crypto, and reads back as SRTP', () => {
    const offer = buildOffer({ origin: ORIGIN, local: LOCAL, caps: CAPS, srtpKey: OURS });
    expect(offer).toMatch(/m=audio 40000 RTP\/SAVP 111 0 101\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:QUJD/);
    expect(negotiateAnswer(offer, CAPS, { srtp: 'required' }).audio.crypto?.key).toBe(OURS.key);
    expect(buildOffer({ origin: ORIGIN, local: LOCAL, caps: CAPS })).not.toContain('SAVP');
  });
});
