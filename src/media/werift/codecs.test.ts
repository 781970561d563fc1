import { AUDIO_LEVEL_URI, dropMdnsCandidates, isDigitalSilence, pairableHosts, peerConfig, bundleHeaderExtensionIds, preferOpusDtx } from './codecs';

describe('dropMdnsCandidates (PEERS.md: werift would resolve mDNS itself)', () => {
  it('drops .local candidates and keeps IP candidates and every other line, CRLF preserved', () => {
    const sdp = [
      'v=0',
      'a=candidate:1 1 udp 2113937151 0b6f2a4e-1d2c-4c5e-9a7b-123456789abc.local 54321 typ host generation 0',
      'a=candidate:2 1 udp 2113937151 127.0.0.1 40000 typ host generation 0',
      'a=candidate:3',
      'a=mid:0',
      '',
    ].join('\r\n');
    expect(dropMdnsCandidates(sdp)).toBe(['v=0', 'a=candidate:2 1 udp 2113937151 127.0.0.1 40000 typ host generation 0', 'a=mid:0', ''].join('\r\n'));
  });
});

describe('peerConfig (DESIGN 4 werift facts)', () => {
  it('uses no STUN server, max-bundle, and exactly the given address for host candidates', () => {
    const c = peerConfig({ address: '127.0.0.1', videoCodec: 'H264' });
    expect(c.iceServers).toEqual([]);
    expect(c.bundlePolicy).toBe('max-bundle');
    expect(c.iceUseIpv4).toBe(false);
    expect(c.iceUseIpv6).toBe(false);
    expect(c.iceAdditionalHostAddresses).toEqual(['127.0.0.1']);
    expect(c.iceInterfaceAddresses).toEqual({ udp4: '127.0.0.1' });
  });

  it('behind 1:1 NAT (public_address): the candidate announces the public address, the socket binds the node address', () => {
    const c = peerConfig({ address: '10.0.0.5', announceAddress: '203.0.113.7', videoCodec: 'H264' });
    expect(c.iceAdditionalHostAddresses).toEqual(['203.0.113.7']);
    expect(c.iceInterfaceAddresses).toEqual({ udp4: '10.0.0.5' });
  });

  it('offers Opus, PCMU, PCMA and G.722 for audio, and H.264 packetization-mode=1 42e01f with nack/pli/fir/remb and no transport-cc', () => {
    const c = peerConfig({ address: '127.0.0.1', videoCodec: 'H264' });
    expect(c.codecs?.audio?.map((x) => `${x.mimeType}/${x.clockRate}/${x.payloadType}`)).toEqual([
      'audio/opus/48000/111',
      'audio/PCMU/8000/0',
      'audio/PCMA/8000/8',
      'audio/G722/8000/9',
    ]);
    const h264 = c.codecs?.video?.[0];
    expect(h264?.mimeType).toBe('video/H264');
    expect(h264?.parameters).toContain('packetization-mode=1');
    expect(h264?.parameters).toContain('profile-level-id=42e01f');
    expect(h264?.rtcpFeedback.map((f) => `${f.type}${f.parameter ? ` ${f.parameter}` : ''}`)).toEqual(['nack', 'nack pli', 'ccm fir', 'goog-remb']);
    const extensions = [...(c.headerExtensions?.audio ?? []), ...(c.headerExtensions?.video ?? [])].map((e) => e.uri);
    expect(extensions.some((u) => u.includes('transport-wide-cc'))).toBe(false);
  });

  it('falls back to gathering on every interface for a wildcard address', () => {
    const c = peerConfig({ address: '0.0.0.0', videoCodec: 'VP8' });
    expect(c.iceUseIpv4).toBe(true);
    expect(c.iceAdditionalHostAddresses).toBeUndefined();
    expect(c.codecs?.video?.[0]?.mimeType).toBe('video/VP8');
  });
});

describe('bundleHeaderExtensionIds()', () => {
  const MID = 'urn:ietf:params:rtp-hdrext:sdes:mid';
  const AST = 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time';
  it("keeps the ids the browser's offer chose for URIs already in the bundle", () => {
    expect(bundleHeaderExtensionIds([{ uri: MID }, { uri: AST }], [{ id: 4, uri: MID }, { id: 2, uri: AST }])).toEqual([
      { id: 4, uri: MID },
      { id: 2, uri: AST },
    ]);
  });
  it('gives a URI new to the bundle the smallest free id (audio-only browser, first video m-line)', () => {
    expect(bundleHeaderExtensionIds([{ uri: MID }, { uri: AST }], [{ id: 1, uri: 'urn:ietf:params:rtp-hdrext:ssrc-audio-level' }, { id: 4, uri: MID }])).toEqual([
      { id: 4, uri: MID },
      { id: 2, uri: AST },
    ]);
  });
  it('leaves an extension out rather than reuse an id when all 14 are taken', () => {
    const full = Array.from({ length: 14 }, (_, i) => ({ id: i + 1, uri: `urn:x:${i}` }));
    expect(bundleHeaderExtensionIds([{ uri: AST }], full)).toEqual([]);
  });
});

describe('pairableHosts', () => {
  test.each([
    ['127.0.0.1', '127.0.0.1', true],
    ['127.0.0.1', '127.0.1.5', true],
    ['127.0.0.1', '192.0.2.2', false],
    ['192.0.2.10', '127.0.0.1', false],
    ['192.0.2.10', '198.51.100.7', true],
    ['::1', '::1', true],
    ['::1', '2001:db8::1', false],
  ])('ICE pairs local %s with remote %s: %s (loopback reaches only loopback)', (local, remote, ok) => {
    expect(pairableHosts(local, remote)).toBe(ok);
  });
});

describe('isDigitalSilence (RFC 6464 audio level)', () => {
  const ext = (id: number, byte: number): { id: number; payload: Buffer } => ({ id, payload: Buffer.from([byte]) });
  test.each([
    ['level 127 (digital silence) without V', [ext(3, 127)], 3, true],
    ['level 127 with the voice flag', [ext(3, 0x80 | 127)], 3, true],
    ['level 30 (speech)', [ext(3, 30)], 3, false],
    ['level 126 (quiet but not silent)', [ext(3, 126)], 3, false],
    ['another extension with 127', [ext(1, 127)], 3, false],
    ['extension not negotiated (id 0)', [ext(3, 127)], 0, false],
    ['empty payload', [{ id: 3, payload: Buffer.alloc(0) }], 3, false],
  ])('%s -> %s', (_what, exts, id, silent) => {
    expect(isDigitalSilence(exts, id)).toBe(silent);
  });

  test('peerConfig negotiates the audio-level extension on audio m-lines', () => {
    const c = peerConfig({ address: '127.0.0.1', videoCodec: 'H264' });
    expect(c.headerExtensions?.audio?.map((e) => e.uri)).toContain(AUDIO_LEVEL_URI);
  });
});

describe('preferOpusDtx', () => {
  it('adds usedtx=1 to Opus fmtp lines only, once, keeping the line ending', () => {
    const sdp = [
      'v=0',
      'm=audio 9 UDP/TLS/RTP/SAVPF 111 0',
      'a=rtpmap:111 opus/48000/2',
      'a=fmtp:111 minptime=10;useinbandfec=1',
      'a=rtpmap:0 PCMU/8000',
      'm=video 9 UDP/TLS/RTP/SAVPF 96',
      'a=rtpmap:96 H264/90000',
      'a=fmtp:96 packetization-mode=1',
      'm=audio 9 UDP/TLS/RTP/SAVPF 109',
      'a=rtpmap:109 opus/48000/2',
      'a=fmtp:109 minptime=10;usedtx=0',
      '',
    ].join('\r\n');
    const out = preferOpusDtx(sdp);
    expect(out).toContain('a=fmtp:111 minptime=10;useinbandfec=1;usedtx=1\r\n');
    expect(out).toContain('a=fmtp:96 packetization-mode=1\r\n');
    expect(out).toContain('a=fmtp:109 minptime=10;usedtx=0\r\n');
    expect(preferOpusDtx(out)).toBe(out);
  });
});
