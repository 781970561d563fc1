import { FakeClock, asParticipantId, type Logger, type ParticipantId } from '../../common';
import { PacketSource, newMediaPacket } from './packet-source';
import { ConferenceSfu } from './sfu';
import { LOCAL_MESH, type MediaKind, type MediaPacket, type Sink, type SourceView, type Viewer } from './types';

const pid = (s: string): ParticipantId => asParticipantId(s);
const LINK_B = 'backplane:node-b';

/** A sink that records what it gets (sequence numbers per source owner). */
class FakeSink implements Sink {
  readonly got: Array<{ owner: string; seq: number; silent: boolean; mime: string }> = [];
  readonly events: string[] = [];
  onKeyframeRequest: ((source: SourceView) => void) | null = null;
  accept = true;
  closed = false;
  constructor(
    readonly kind: MediaKind | 'any',
    readonly owner: ParticipantId | undefined,
    readonly excludeMeshTag: string | undefined = undefined,
    readonly skipSilent = false,
  ) {}
  send(p: MediaPacket, source: SourceView): boolean {
    this.got.push({ owner: source.owner, seq: p.sequence, silent: p.silent, mime: source.codec.mime });
    return this.accept;
  }
  sourceAdded(s: SourceView): void {
    this.events.push(`+${s.owner}/${s.kind}`);
  }
  sourceRemoved(s: SourceView): void {
    this.events.push(`-${s.owner}/${s.kind}`);
  }
  close(): void {
    this.closed = true;
  }
}

/** A browser-like viewer: one FakeSink per source, bound to it. */
class FakeViewer implements Viewer {
  readonly kind = 'any';
  readonly excludeMeshTag = undefined;
  readonly sinks = new Map<string, FakeSink>();
  constructor(readonly owner: ParticipantId) {}
  sinkFor(source: SourceView): Sink {
    const sink = new FakeSink(source.kind, this.owner, undefined, true);
    this.sinks.set(`${source.owner}/${source.kind}`, sink);
    return sink;
  }
}

function source(owner: string, kind: MediaKind, meshTag = LOCAL_MESH, requestKeyframe?: () => void): PacketSource {
  const codec = kind === 'audio' ? { mime: 'audio/opus', clockRate: 48000 } : { mime: 'video/vp8', clockRate: 90000 };
  return new PacketSource({ owner: pid(owner), kind, codec, meshTag, ...(requestKeyframe ? { requestKeyframe } : {}) });
}

function packet(seq: number, bytes = 10, silent = false): MediaPacket {
  return { ...newMediaPacket(), sequence: seq, payload: Buffer.alloc(bytes), silent };
}

function setup() {
  const clock = new FakeClock();
  const errors: string[] = [];
  const logger: Logger = {
    debug: () => undefined,
    info: () => undefined,
    warn: () => undefined,
    error: (_o, msg) => errors.push(msg ?? ''),
    child: () => logger,
  };
  const sfu = new ConferenceSfu({ clock, logger });
  const added: string[] = [];
  sfu.on('source-added', (s) => added.push(`+${s.owner}/${s.kind}@${s.meshTag}`));
  sfu.on('source-removed', (s) => added.push(`-${s.owner}/${s.kind}@${s.meshTag}`));
  return { clock, sfu, added, errors };
}

describe('ConferenceSfu (issue 10 seam 2: Sources and Sinks)', () => {
  it("each source reaches every sink of its kind except its owner's, one call per packet per sink", () => {
    const { sfu } = setup();
    const mixer = new FakeSink('audio', undefined);
    const bobAudio = new FakeSink('audio', pid('bob'));
    const bobVideo = new FakeSink('video', pid('bob'));
    const aliceOwn = new FakeSink('any', pid('alice'));
    for (const s of [mixer, bobAudio, bobVideo, aliceOwn]) sfu.addSink(s);
    const a = source('alice', 'audio');
    sfu.addSource(a);
    a.push(packet(1));
    a.push(packet(2));
    expect(mixer.got.map((g) => g.seq)).toEqual([1, 2]);
    expect(bobAudio.got.map((g) => g.seq)).toEqual([1, 2]);
    expect(bobVideo.got).toEqual([]);
    expect(aliceOwn.got).toEqual([]);
    expect(sfu.sinkCountOf(a)).toBe(2);
  });

  it('split horizon (DESIGN.md 6): a sink never gets the streams of the link it excludes, and gets local and other links\' streams', () => {
    const { sfu } = setup();
    const toB = new FakeSink('any', undefined, LINK_B);
    sfu.addSink(toB);
    const fromB = source('remote-b', 'audio', LINK_B);
    const fromC = source('remote-c', 'audio', 'backplane:node-c');
    const local = source('alice', 'video');
    for (const s of [fromB, fromC, local]) {
      sfu.addSource(s);
      s.push(packet(7));
    }
    expect(toB.got.map((g) => g.owner)).toEqual(['remote-c', 'alice']);
  });

  it('sources and sinks come and go at control rate: late sinks get present sources, leaving sources are told and viewers\' sinks closed', () => {
    const { sfu, added } = setup();
    const a = source('alice', 'audio');
    const v = source('alice', 'video');
    sfu.addSource(a);
    sfu.addSource(v);
    const mixer = new FakeSink('audio', undefined);
    sfu.addSink(mixer);
    expect(mixer.events).toEqual(['+alice/audio']);
    const bob = new FakeViewer(pid('bob'));
    const carol = new FakeViewer(pid('carol'));
    sfu.addViewer(bob);
    sfu.addViewer(carol);
    expect([...bob.sinks.keys()]).toEqual(['alice/audio', 'alice/video']);
    // Bob publishes: carol gets a sink for it, bob none (his own stream).
    const b = source('bob', 'audio');
    sfu.addSource(b);
    expect([...carol.sinks.keys()]).toEqual(['alice/audio', 'alice/video', 'bob/audio']);
    expect(bob.sinks.has('bob/audio')).toBe(false);
    sfu.removeSource(v);
    expect(bob.sinks.get('alice/video')?.closed).toBe(true);
    expect(bob.sinks.get('alice/audio')?.closed).toBe(false);
    sfu.removeViewer(carol);
    expect([...carol.sinks.values()].every((s) => s.closed)).toBe(true);
    a.push(packet(3));
    expect(carol.sinks.get('alice/audio')?.got).toEqual([]);
    expect(bob.sinks.get('alice/audio')?.got.map((g) => g.seq)).toEqual([3]);
    sfu.removeSink(mixer);
    a.push(packet(4));
    expect(mixer.got.map((g) => g.seq)).toEqual([3]);
    expect(mixer.events).toEqual(['+alice/audio', '+bob/audio', '-alice/audio', '-bob/audio']);
    expect(added).toEqual(['+alice/audio@local', '+alice/video@local', '+bob/audio@local', '-alice/video@local']);
    expect(sfu.sources().map((s) => `${s.owner}/${s.kind}`)).toEqual(['alice/audio', 'bob/audio']);
    // A removed source is detached: what it pushes goes nowhere.
    sfu.removeSource(a);
    a.push(packet(5));
    expect(bob.sinks.get('alice/audio')?.got.map((g) => g.seq)).toEqual([3, 4]);
    expect(bob.sinks.get('alice/audio')?.closed).toBe(true);
  });

  it('counts packets, bytes and drops per source and per sink', () => {
    const { sfu } = setup();
    const taker = new FakeSink('audio', undefined);
    const refuser = new FakeSink('audio', pid('bob'));
    refuser.accept = false;
    sfu.addSink(taker);
    sfu.addSink(refuser);
    const a = source('alice', 'audio');
    sfu.addSource(a);
    for (let i = 0; i < 3; i++) a.push(packet(i, 100));
    expect(sfu.sourceStats(a)).toEqual({ packets: 3, bytes: 300, dropped: 3 });
    expect(sfu.sinkStats(taker)).toEqual({ packets: 3, bytes: 300, dropped: 0, silentSkipped: 0 });
    expect(sfu.sinkStats(refuser)).toEqual({ packets: 0, bytes: 0, dropped: 3, silentSkipped: 0 });
  });

  it('digital silence (RFC 6464 level 127) still reaches the mixer but not the sinks that skip it (viewers)', () => {
    const { sfu } = setup();
    const mixer = new FakeSink('audio', undefined);
    sfu.addSink(mixer);
    const bob = new FakeViewer(pid('bob'));
    sfu.addViewer(bob);
    const a = source('alice', 'audio');
    sfu.addSource(a);
    a.push(packet(1, 10, true));
    a.push(packet(2, 10, false));
    expect(mixer.got.map((g) => [g.seq, g.silent])).toEqual([
      [1, true],
      [2, false],
    ]);
    const viewerSink = bob.sinks.get('alice/audio') as FakeSink;
    expect(viewerSink.got.map((g) => g.seq)).toEqual([2]);
    expect(sfu.sinkStats(viewerSink)).toMatchObject({ packets: 1, silentSkipped: 1 });
  });

  it('DESIGN.md 4 keyframes: sinks\' requests reach a video source through one throttle per source (one per 500 ms, none lost)', () => {
    const { sfu, clock } = setup();
    let plis = 0;
    const v = source('alice', 'video', LOCAL_MESH, () => plis++);
    sfu.addSource(v);
    const bob = new FakeViewer(pid('bob'));
    const carol = new FakeViewer(pid('carol'));
    const toB = new FakeSink('video', undefined, LINK_B);
    sfu.addViewer(bob);
    sfu.addViewer(carol);
    sfu.addSink(toB);
    for (const sink of [bob.sinks.get('alice/video'), carol.sinks.get('alice/video'), toB]) sink?.onKeyframeRequest?.(v);
    expect(plis).toBe(1);
    clock.advance(499);
    expect(plis).toBe(1);
    clock.advance(1);
    expect(plis).toBe(2); // the deferred request, once
    clock.advance(2000);
    expect(plis).toBe(2);
    // A removed source's pending request is dropped with it.
    toB.onKeyframeRequest?.(v);
    toB.onKeyframeRequest?.(v);
    sfu.removeSource(v);
    clock.advance(1000);
    expect(plis).toBe(3);
    expect(toB.onKeyframeRequest).not.toBeNull();
    sfu.removeSink(toB);
    expect(toB.onKeyframeRequest).toBeNull();
  });

  it('a sink that throws loses its packet only: the others get it, the drop is counted, the error logged once', () => {
    const { sfu, errors } = setup();
    const bad = new FakeSink('audio', undefined);
    bad.send = () => {
      throw new Error('boom');
    };
    const good = new FakeSink('audio', undefined);
    sfu.addSink(bad);
    sfu.addSink(good);
    const a = source('alice', 'audio');
    sfu.addSource(a);
    a.push(packet(1));
    a.push(packet(2));
    expect(good.got.map((g) => g.seq)).toEqual([1, 2]);
    expect(sfu.sinkStats(bad)).toMatchObject({ dropped: 2 });
    expect(errors).toHaveLength(1);
  });

  it('a codec change is seen by sinks on the next packet and told to onlookers (source-changed)', () => {
    const { sfu } = setup();
    const sink = new FakeSink('audio', undefined);
    sfu.addSink(sink);
    const changed: string[] = [];
    sfu.on('source-changed', (s) => changed.push(s.codec.mime));
    const a = new PacketSource({ owner: pid('sip'), kind: 'audio', codec: { mime: 'audio/pcmu', clockRate: 8000 }, meshTag: LOCAL_MESH });
    sfu.addSource(a);
    a.push(packet(1));
    sfu.setCodec(a, { mime: 'audio/pcma', clockRate: 8000 });
    sfu.setCodec(a, { mime: 'audio/pcma', clockRate: 8000 });
    a.push(packet(2));
    expect(sink.got.map((g) => g.mime)).toEqual(['audio/pcmu', 'audio/pcma']);
    expect(changed).toEqual(['audio/pcma']);
  });

  it('close() is idempotent: every source leaves (onlookers told), viewers\' sinks closed, later additions ignored', () => {
    const { sfu, added } = setup();
    const bob = new FakeViewer(pid('bob'));
    sfu.addViewer(bob);
    const a = source('alice', 'audio');
    sfu.addSource(a);
    sfu.close();
    sfu.close();
    expect(added).toEqual(['+alice/audio@local', '-alice/audio@local']);
    expect(bob.sinks.get('alice/audio')?.closed).toBe(true);
    expect(a.onPacket).toBeNull();
    sfu.addSource(source('carol', 'audio'));
    expect(sfu.sources()).toEqual([]);
  });
});
