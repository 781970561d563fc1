import { ConfnodeError, mutateLines, seededRandom } from '../../common';
import { buildAnswer, buildOffer } from './build';
import { negotiateAnswer, negotiateOffer } from './negotiate';
import type { CodecCapability, NegotiatedAudio } from './types';

const CAPS: CodecCapability[] = [
  { name: 'opus', clockRate: 48000, channels: 2, dynamicPayloadType: 111, fmtp: 'minptime=10;useinbandfec=1' },
  { name: 'PCMU', clockRate: 8000, channels: 1, staticPayloadType: 0 },
  { name: 'PCMA', clockRate: 8000, channels: 1, staticPayloadType: 8 },
];

const sdp = (...lines: string[]): string => lines.join('\r\n') + '\r\n';
const HEAD = ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0'];

describe('negotiateOffer()', () => {
  it('RFC 3264: takes the first offered codec we support (offerer preference) and telephone-event', () => {
    const n = negotiateOffer(
      sdp(...HEAD, 'm=audio 4000 RTP/AVP 18 8 0 101', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-15'),
      CAPS,
    );
    expect(n.audio?.codec).toMatchObject({ name: 'PCMA', payloadType: 8, clockRate: 8000 });
    expect(n.audio?.telephoneEvent).toMatchObject({ payloadType: 101 });
    expect(n.audio?.remote).toEqual({ address: '127.0.0.1', rtpPort: 4000, rtcpPort: 4001, rtcpMux: false });
  });

  it('accepts Opus offered as opus/48000/2 with a dynamic payload type, a=rtcp and rtcp-mux', () => {
    const n = negotiateOffer(
      sdp(...HEAD, 'm=audio 5000 RTP/AVP 96 0', 'a=rtpmap:96 opus/48000/2', 'a=rtcp-mux', 'a=rtcp:5000'),
      CAPS,
    );
    expect(n.audio?.codec).toMatchObject({ name: 'opus', payloadType: 96, clockRate: 48000, channels: 2 });
    expect(n.audio?.remote.rtcpMux).toBe(true);
    expect(n.audio?.remote.rtcpPort).toBeUndefined();
  });

  it('uses the media-level connection address over the session one', () => {
    const n = negotiateOffer(sdp(...HEAD, 'm=audio 4000 RTP/AVP 0', 'c=IN IP4 127.0.0.2'), CAPS);
    expect(n.audio?.remote.address).toBe('127.0.0.2');
  });

  it.each([
    ['sendonly', true],
    ['inactive', true],
    ['recvonly', false],
    ['sendrecv', false],
  ])('hold detection: a=%s -> onHold %s', (dir, hold) => {
    const n = negotiateOffer(sdp(...HEAD, 'm=audio 4000 RTP/AVP 0', `a=${dir}`), CAPS);
    expect(n.audio?.onHold).toBe(hold);
  });

  it('c=0.0.0.0 is the RFC 2543 hold', () => {
    const n = negotiateOffer(sdp('v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 0.0.0.0', 't=0 0', 'm=audio 4000 RTP/AVP 0'), CAPS);
    expect(n.audio?.onHold).toBe(true);
  });

  it.each([
    ['only G.729', sdp(...HEAD, 'm=audio 4000 RTP/AVP 18')],
    ['only an unknown dynamic codec', sdp(...HEAD, 'm=audio 4000 RTP/AVP 97', 'a=rtpmap:97 AMR/8000')],
    ['SRTP profile only', sdp(...HEAD, 'm=audio 4000 RTP/SAVP 0')],
    ['video only', sdp(...HEAD, 'm=video 4000 RTP/AVP 96', 'a=rtpmap:96 H264/90000')],
    ['disabled audio', sdp(...HEAD, 'm=audio 0 RTP/AVP 0')],
    // sdp-transform reads digits as numbers in any field: these once threw TypeErrors (500).
    ['a connection address of digits only', sdp('v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 1', 't=0 0', 'm=audio 4000 RTP/AVP 0')],
    ['a codec named with digits only', sdp(...HEAD, 'm=audio 4000 RTP/AVP 96', 'a=rtpmap:96 0/8000')],
    ['RTP on port 65535 (RTCP would be 65536)', sdp(...HEAD, 'm=audio 65535 RTP/AVP 0')],
  ])('488 (no-common-codec) for %s', (_name, offer) => {
    expect(() => negotiateOffer(offer, CAPS)).toThrow(ConfnodeError);
    try {
      negotiateOffer(offer, CAPS);
    } catch (err) {
      expect((err as ConfnodeError).code).toBe('no-common-codec');
    }
  });

  it('rejects garbage as bad-request, never crashing', () => {
    for (const bad of ['', 'hello', 'v=1\r\n', 'x'.repeat(20000)]) {
      expect(() => negotiateOffer(bad, CAPS)).toThrow(ConfnodeError);
    }
  });
});

describe('buildAnswer()', () => {
  it('RFC 3264 section 6: mirrors every m-line, rejecting video with port 0, and answers hold with recvonly', () => {
    const offer = sdp(
      ...HEAD,
      'm=audio 4000 RTP/AVP 0 101',
      'a=rtpmap:101 telephone-event/8000',
      'a=sendonly',
      'm=video 4002 RTP/AVP 96',
      'a=rtpmap:96 H264/90000',
    );
    const n = negotiateOffer(offer, CAPS);
    const answer = buildAnswer({
      origin: { sessionId: '42', version: 1 },
      local: { address: '127.0.0.1', port: 40000, rtcpPort: 40001, rtcpMux: false },
      negotiation: n,
    });
    expect(answer).toContain('m=audio 40000 RTP/AVP 0 101\r\n');
    expect(answer).toContain('a=rtcp:40001');
    expect(answer).toContain('a=recvonly');
    expect(answer).toContain('m=video 0 RTP/AVP 96');
    // Our own answer must parse back with the same codec.
    const back = negotiateAnswer(answer, CAPS).audio;
    expect(back.codec.name).toBe('PCMU');
    expect(back.telephoneEvent?.payloadType).toBe(101);
  });

  it('keeps rtcp-mux only when the offer had it', () => {
    const n = negotiateOffer(sdp(...HEAD, 'm=audio 4000 RTP/AVP 0'), CAPS);
    const answer = buildAnswer({
      origin: { sessionId: '1', version: 1 },
      local: { address: '127.0.0.1', port: 40000, rtcpPort: 40001, rtcpMux: true },
      negotiation: n,
    });
    expect(answer).not.toContain('a=rtcp-mux');
    expect(answer).toContain('a=rtcp:40001');
  });
});

describe('buildOffer()', () => {
  it('offers every capability with telephone-event, and an answer picking PCMA negotiates', () => {
    const offer = buildOffer({
      origin: { sessionId: '7', version: 1 },
      local: { address: '127.0.0.1', port: 40010, rtcpPort: 40011, rtcpMux: false },
      caps: CAPS,
    });
    expect(offer).toContain('m=audio 40010 RTP/AVP 111 0 8 101');
    expect(offer).toContain('a=rtpmap:111 opus/48000/2');
    const answer = sdp(...HEAD, 'm=audio 6000 RTP/AVP 8 101', 'a=rtpmap:101 telephone-event/8000');
    expect(negotiateAnswer(answer, CAPS).audio.codec).toMatchObject({ name: 'PCMA', payloadType: 8 });
  });
});

describe('G.722 (RFC 3551 section 4.5.2: 16 kHz audio, RTP clock 8000, static PT 9)', () => {
  const WITH_G722: CodecCapability[] = [
    CAPS[0] as CodecCapability,
    { name: 'G722', clockRate: 8000, channels: 1, staticPayloadType: 9 },
    ...CAPS.slice(1),
  ];

  it('an offer of G722/8000 on PT 9 (as baresip and room systems send it) negotiates G722 at clock 8000', () => {
    const n = negotiateOffer(sdp(...HEAD, 'm=audio 4000 RTP/AVP 9 0', 'a=rtpmap:9 G722/8000', 'a=rtpmap:0 PCMU/8000'), WITH_G722);
    expect(n.audio?.codec).toMatchObject({ name: 'G722', payloadType: 9, clockRate: 8000, channels: 1 });
  });

  it('PT 9 without an rtpmap is G722/8000 from the static table', () => {
    const n = negotiateOffer(sdp(...HEAD, 'm=audio 4000 RTP/AVP 9 0'), WITH_G722);
    expect(n.audio?.codec).toMatchObject({ name: 'G722', payloadType: 9, clockRate: 8000 });
  });

  it('G722/16000 (the sampling rate, a common mistake) does not match: the next offered codec wins', () => {
    const n = negotiateOffer(sdp(...HEAD, 'm=audio 4000 RTP/AVP 9 0', 'a=rtpmap:9 G722/16000'), WITH_G722);
    expect(n.audio?.codec).toMatchObject({ name: 'PCMU', payloadType: 0 });
  });
});

describe('video negotiation (one conference video codec, no transcoding)', () => {
  const AV = (videoLines: string[]): string =>
    sdp(...HEAD, 'm=audio 4000 RTP/AVP 0', 'm=video 4002 RTP/AVP ' + videoLines[0], ...videoLines.slice(1));

  it('accepts H264 packetization-mode=1 constrained baseline with its RTCP feedback', () => {
    const n = negotiateOffer(
      AV(['96 97', 'a=rtpmap:96 H264/90000', 'a=fmtp:96 profile-level-id=42e01f;packetization-mode=1', 'a=rtcp-fb:96 nack', 'a=rtcp-fb:96 nack pli', 'a=rtpmap:97 VP8/90000']),
      CAPS,
      { videoCodec: 'H264' },
    );
    expect(n.video?.codec).toMatchObject({ name: 'H264', payloadType: 96 });
    expect(n.video?.feedback).toEqual({ nack: true, pli: true, fir: false });
    expect(n.video?.remote.rtpPort).toBe(4002);
  });

  it.each([
    ['H264 packetization-mode=0 only', ['96', 'a=rtpmap:96 H264/90000', 'a=fmtp:96 packetization-mode=0'], 'H264', 'conference uses H264 packetization-mode=1'],
    ['H264 High profile only', ['96', 'a=rtpmap:96 H264/90000', 'a=fmtp:96 profile-level-id=640028;packetization-mode=1'], 'H264', 'H264'],
    ['only VP8 in an H264 conference', ['97', 'a=rtpmap:97 VP8/90000'], 'H264', 'H264'],
    ['only H264 in a VP8 conference', ['96', 'a=rtpmap:96 H264/90000', 'a=fmtp:96 packetization-mode=1'], 'VP8', 'conference uses VP8'],
  ] as const)('%s: audio only, and the reason says why', (_name, video, codec, reason) => {
    const n = negotiateOffer(AV([...video]), CAPS, { videoCodec: codec });
    expect(n.video).toBeUndefined();
    expect(n.audio.codec.name).toBe('PCMU');
    expect(n.videoRejectedReason).toContain(reason);
  });

  it('buildAnswer() answers accepted video with our port, codec and feedback, or port 0 without a video endpoint', () => {
    const n = negotiateOffer(AV(['97', 'a=rtpmap:97 VP8/90000']), CAPS, { videoCodec: 'VP8' });
    const local = { address: '127.0.0.1', port: 40000, rtcpPort: 40001, rtcpMux: false };
    const withVideo = buildAnswer({ origin: { sessionId: '1', version: 1 }, local, negotiation: n, localVideo: { address: '127.0.0.1', port: 40002, rtcpPort: 40003 } });
    expect(withVideo).toContain('m=video 40002 RTP/AVP 97\r\na=rtpmap:97 VP8/90000\r\na=rtcp-fb:97 nack\r\na=rtcp-fb:97 nack pli\r\na=rtcp-fb:97 ccm fir');
    const back = negotiateOffer(withVideo, CAPS, { videoCodec: 'VP8' });
    expect(back.video?.feedback).toEqual({ nack: true, pli: true, fir: true });
    const without = buildAnswer({ origin: { sessionId: '1', version: 1 }, local, negotiation: n });
    expect(without).toContain('m=video 0 RTP/AVP 97');
  });

  it('without a conference video codec every video m-line is refused (port 0), audio still negotiates', () => {
    const n = negotiateOffer(AV(['97', 'a=rtpmap:97 VP8/90000']), CAPS);
    expect(n.media[1]).toMatchObject({ kind: 'rejected', reason: 'video not supported here' });
  });
});

describe('SDP from the network is untrusted: random mutations of real offers', () => {
  /** Offers shaped like real phones' (Polycom-, Cisco-, Linphone-, baresip-like), audio and video. */
  const CORPUS = [
    sdp(...HEAD, 'm=audio 4000 RTP/AVP 0 8 101', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-15', 'a=ptime:20', 'a=sendrecv'),
    sdp('v=0', 'o=alice 2890844526 2890844526 IN IP6 ::1', 's=call', 'c=IN IP6 ::1', 't=0 0', 'm=audio 49170 RTP/AVP 9 0', 'a=rtpmap:9 G722/8000', 'a=rtcp:49171'),
    sdp(...HEAD, 'm=audio 5000 RTP/AVP 96 0', 'a=rtpmap:96 opus/48000/2', 'a=fmtp:96 useinbandfec=1;stereo=0', 'a=rtcp-mux', 'a=sendonly'),
    sdp(
      ...HEAD,
      'b=AS:2048',
      'm=audio 4000 RTP/AVP 0 101',
      'a=rtpmap:101 telephone-event/8000',
      'm=video 4002 RTP/AVP 96 97',
      'a=rtpmap:96 H264/90000',
      'a=fmtp:96 profile-level-id=42e01f;packetization-mode=1',
      'a=rtcp-fb:96 nack pli',
      'a=rtcp-fb:* ccm fir',
      'a=rtpmap:97 VP8/90000',
      'a=content:main',
    ),
  ];
  const TOKENS = ['', ' ', '0', '-1', '65536', '99999999999999999999', 'IN', 'IP7', 'RTP/SAVP', '::', '0.0.0.0', '=', ':', '/', '*', 'a=', 'm=', '\t', 'é', '\u0000'];

  const DONORS = CORPUS.flatMap((o) => o.split('\r\n'));
  const mutate = (text: string, rnd: () => number): string => mutateLines(text, rnd, { tokens: TOKENS, donors: DONORS });

  const port = (p: unknown): boolean => Number.isInteger(p) && (p as number) >= 1 && (p as number) <= 65535;
  /** What the media plane will be given: an address string, real ports, a named codec with a rate. */
  function sane(n: NegotiatedAudio | undefined): boolean {
    if (!n) return true;
    const { remote, codec } = n;
    return typeof remote.address === 'string' && port(remote.rtpPort) && (remote.rtcpPort === undefined || port(remote.rtcpPort)) &&
      typeof codec.name === 'string' && Number.isInteger(codec.clockRate) && codec.clockRate > 0 && (codec.fmtp === undefined || typeof codec.fmtp === 'string');
  }

  /** Either a sane result or a ConfnodeError (which becomes 400 or 488); anything else is a bug. */
  function outcome(f: () => { audio?: NegotiatedAudio }): string {
    try {
      return sane(f().audio) ? 'ok' : 'insane result';
    } catch (err) {
      return err instanceof ConfnodeError ? err.code : `${String(err)}`;
    }
  }

  it('negotiateOffer and negotiateAnswer return or refuse with a ConfnodeError, for 4000 mutated offers', () => {
    const rnd = seededRandom(3264);
    const unexpected = new Map<string, string>();
    const seen = new Set<string>();
    for (let round = 0; round < 1000; round++) {
      for (const offer of CORPUS) {
        const text = mutate(offer, rnd);
        for (const [what, r] of [
          ['offer', outcome(() => negotiateOffer(text, CAPS, { videoCodec: 'H264' }))],
          ['answer', outcome(() => negotiateAnswer(text, CAPS))],
        ] as const) {
          seen.add(r);
          if (!['ok', 'bad-request', 'no-common-codec'].includes(r)) unexpected.set(`${what}: ${r}`, text);
        }
      }
    }
    expect([...unexpected]).toEqual([]);
    // The mutations reach every outcome, so the check above means something.
    expect([...seen].sort()).toEqual(['bad-request', 'no-common-codec', 'ok']);
  });
});
