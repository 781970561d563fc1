import { asNodeId, asParticipantId } from '../common';
import { LOCAL_MESH, parseRtp, type RemoteSourceHandle } from '../media';
import { InStream, MAX_NACK_GAP, OutStream } from './link-streams';
import { BACKPLANE_MESH_PREFIX, backplaneMeshTag, meshPrefixOf, parseBackplaneStreams } from './streams';
import { BACKPLANE_PT, MAX_MEDIA_HEADER, RetransmitRing, buildNack, isSilent, readNack, writeMediaHeader } from './wire';

const source = { owner: asParticipantId('alice'), kind: 'audio' as const, codec: { mime: 'audio/pcmu', clockRate: 8000 }, meshTag: LOCAL_MESH };

describe('backplane wire format', () => {
  it('digital silence travels as an RFC 6464 level-127 element; other packets carry no extension', () => {
    const head = Buffer.alloc(MAX_MEDIA_HEADER);
    const payload = Buffer.from([1, 2, 3]);
    for (const silent of [true, false]) {
      const hl = writeMediaHeader(head, BACKPLANE_PT.audio, true, 7, 1234, 0xabc, silent);
      expect(hl).toBe(silent ? 20 : 12);
      const view = parseRtp(Buffer.concat([head.subarray(0, hl), payload]));
      expect(view).toMatchObject({ payloadType: 96, marker: true, sequence: 7, timestamp: 1234, ssrc: 0xabc });
      expect(view?.payload).toEqual(payload);
      expect(view && isSilent(view)).toBe(silent);
    }
    // With the marker, our payload types stay out of RTCP's 192-223 (RFC 5761 demultiplexing).
    for (const pt of Object.values(BACKPLANE_PT)) expect(0x80 | pt).toBeGreaterThan(223);
  });

  it('generic NACK (RFC 4585 6.2.1): sequence numbers packed as PID/BLP pairs and read back, across the wrap', () => {
    const seqs = [65534, 65535, 0, 5, 17, 40, 41];
    const nack = buildNack(1, 0xfeed, seqs);
    expect(nack.body.length).toBe(8 + 3 * 4); // pairs: 65534 (+65535, 0, 5), 17 (19 after 65534), 40 (+41)
    expect(readNack(nack)).toEqual({ mediaSsrc: 0xfeed, seqs });
    expect(readNack({ type: 'rr', ssrc: 1, reports: [] })).toBeUndefined();
    expect(readNack({ type: 'unknown', packetType: 205, count: 1, body: Buffer.alloc(4) })).toBeUndefined();
  });

  it('the retransmission ring keeps the last N packets by sequence number', () => {
    const ring = new RetransmitRing(4);
    for (let s = 0; s < 6; s++) ring.put(s, Buffer.from([s]));
    expect(ring.get(1)).toBeUndefined();
    expect(ring.get(5)).toEqual(Buffer.from([5]));
    expect(ring.has(2)).toBe(true);
    expect(() => new RetransmitRing(3)).toThrow();
  });
});

describe('OutStream: the link sequence of a local stream (SRTP index never jumps, never reused)', () => {
  const mapAll = (out: OutStream, steps: Array<[number, number]>): number[] =>
    steps.map(([seq, ssrc]) => {
      const s = out.mapSeq(seq, ssrc);
      if (s >= 0) out.sent(s, Buffer.alloc(1), 1, 0);
      return s;
    });

  it('keeps the source numbering (and its gaps) while it runs; an SSRC change or a big jump restarts after the last link number', () => {
    const out = new OutStream(1, source, 100, 64);
    expect(mapAll(out, [[5000, 1], [5001, 1], [5003, 1], [9, 2], [10, 2], [40000, 2], [40001, 2]])).toEqual([100, 101, 103, 104, 105, 106, 107]);
  });

  it('skips duplicates, and sends a late packet only into a gap still in reach', () => {
    const out = new OutStream(1, source, 0, 64);
    expect(mapAll(out, [[10, 1], [12, 1], [12, 1], [11, 1], [11, 1]])).toEqual([0, 2, -1, 1, -1]);
    expect(out.skipped).toBe(2);
    expect(out.describe()).toEqual({ ssrc: 1, owner: 'alice', kind: 'audio', mime: 'audio/pcmu', clockRate: 8000 });
  });
});

describe('InStream: gaps of a peer stream become NACKs', () => {
  it(`asks for a gap of up to ${MAX_NACK_GAP} packets once, ignores late and retransmitted ones`, () => {
    const pushed: number[] = [];
    const handle = { push: (p: { sequence: number }) => pushed.push(p.sequence) } as unknown as RemoteSourceHandle;
    const s = new InStream({ ssrc: 9, owner: asParticipantId('a'), kind: 'audio', mime: 'audio/pcmu', clockRate: 8000 }, handle);
    const recv = (seq: number): number[] => {
      const view = parseRtp(Buffer.concat([Buffer.from([0x80, 96, seq >> 8, seq & 0xff, 0, 0, 0, 0, 0, 0, 0, 9]), Buffer.alloc(4)]));
      if (!view) throw new Error('bad');
      return s.receive(view, false, 0) > 0 ? [...s.missing] : [];
    };
    expect(recv(65534)).toEqual([]);
    expect(recv(1)).toEqual([65535, 0]);
    expect(recv(0)).toEqual([]); // the retransmission
    expect(recv(2)).toEqual([]);
    expect(recv(2 + MAX_NACK_GAP + 2)).toEqual([]); // too long a gap to be worth asking for
    expect(pushed).toEqual([65534, 1, 0, 2, 2 + MAX_NACK_GAP + 2]);
  });
});

describe('stream announcements (what a peer sends is checked before use)', () => {
  const good = { ssrc: 5, owner: 'bob', kind: 'audio', mime: 'AUDIO/PCMU', clockRate: 8000 };

  it('accepts a well-formed list (MIME in lower case) and refuses a bad one whole', () => {
    expect(parseBackplaneStreams([good])).toEqual([{ ...good, mime: 'audio/pcmu' }]);
    for (const bad of [
      [good, { ...good, owner: 'carol' }], // one SSRC twice
      [{ ...good, kind: 'video' }], // MIME of another kind
      [{ ...good, ssrc: 0 }],
      [{ ...good, mime: 'audio/../x' }],
      [{ ...good, extra: 1 }],
      [{ ...good, clockRate: 1e9 }],
      Array.from({ length: 513 }, (_, i) => ({ ...good, ssrc: i + 1 })),
      'nope',
    ]) {
      expect(() => parseBackplaneStreams(bad)).toThrow(expect.objectContaining({ code: 'bad-request' }));
    }
  });

  it('split horizon over a full mesh: what came over a local backplane never goes out on another one', () => {
    expect(LOCAL_MESH.startsWith(BACKPLANE_MESH_PREFIX)).toBe(false);
    expect(backplaneMeshTag(asNodeId('node-b')).startsWith(meshPrefixOf('local'))).toBe(true);
    expect(backplaneMeshTag(asNodeId('node-b'), 'geo').startsWith(meshPrefixOf('geo'))).toBe(true);
    expect(backplaneMeshTag(asNodeId('node-b'), 'geo').startsWith(meshPrefixOf('local'))).toBe(false);
    expect(() => backplaneMeshTag(asNodeId('bad name'))).toThrow(expect.objectContaining({ code: 'bad-request' }));
  });
});
