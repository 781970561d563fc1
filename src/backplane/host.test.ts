import dgram from 'node:dgram';
import { asConferenceId, asNodeId, asParticipantId, silentLogger, systemClock, type ConferenceId, type NodeId } from '../common';
import { LocalMediaService, buildRtp } from '../media';
import { BackplaneHost } from './host';
import type { BackplaneLinkStats } from './types';
import { ControlStandIn, TonePhone, until, type MeshMember } from './test-mesh';

jest.setTimeout(30_000);

/** One node's media thread: its media and its backplanes (what worker-main composes). */
interface Side {
  name: NodeId;
  media: LocalMediaService;
  host: BackplaneHost;
  member: MeshMember;
}

let nextPort = 46000;
function side(name: string, announceAddress?: string): Side {
  const media = new LocalMediaService({
    address: '127.0.0.1',
    rtpPorts: { min: nextPort, max: nextPort + 39 }, // ports of this file only
    clock: systemClock,
    logger: silentLogger,
    mixTalkers: 3,
    jitterBufferMs: 40,
    opusComplexity: 3,
  });
  nextPort += 40;
  const host = new BackplaneHost({ media, clock: systemClock, logger: silentLogger, rtcpIntervalMs: 200, ...(announceAddress ? { announceAddress } : {}) });
  const node = asNodeId(name);
  const member: MeshMember = {
    name: node,
    openBackplane: (c, p, o) => host.openLink(c, p, o),
    connectBackplane: (c, p, r, k) => host.connectLink(c, p, r, k),
    setBackplaneStreams: (c, p, s) => host.setRemoteStreams(c, p, s),
    closeBackplane: (c, p) => host.closeLink(c, p),
    onLocalStreams: (fn) => host.events.on('localStreams', fn),
  };
  return { name: node, media, host, member };
}

const conf = { id: asConferenceId('c-mesh'), name: 'mesh' };
const pid = asParticipantId;

function link(s: Side, peer: Side, conference: ConferenceId = conf.id): BackplaneLinkStats {
  const l = s.host.stats().find((x) => x.peer === peer.name && x.conference === conference);
  if (!l) throw new Error(`${s.name} has no link to ${peer.name}`);
  return l;
}

function ownersOn(s: Side, conference: ConferenceId = conf.id): string[] {
  return (s.media.routerOf(conference)?.sources() ?? []).map((x) => `${x.owner}/${x.kind}@${x.meshTag}`).sort();
}

/** A UDP relay between two links' ports: the test sees, drops or forges what crosses. */
async function relayBetween(sockets: dgram.Socket[]): Promise<{ addr: { address: string; port: number }; ends: { a: number; b: number }; fromA: (fn: (msg: Buffer) => boolean) => void }> {
  const relay = dgram.createSocket('udp4');
  sockets.push(relay);
  await new Promise<void>((r) => relay.bind(0, '127.0.0.1', () => r()));
  const ends = { a: 0, b: 0 };
  let filter: (msg: Buffer) => boolean = () => true;
  relay.on('message', (msg, rinfo) => {
    if (rinfo.port === ends.a && filter(msg)) relay.send(msg, ends.b, '127.0.0.1');
    else if (rinfo.port === ends.b) relay.send(msg, ends.a, '127.0.0.1');
  });
  return { addr: { address: '127.0.0.1', port: relay.address().port }, ends, fromA: (fn) => (filter = fn) };
}

describe('local backplanes between media threads (real loopback sockets, SRTP)', () => {
  const sides: Side[] = [];
  const phones: TonePhone[] = [];
  const controls: ControlStandIn[] = [];
  const sockets: dgram.Socket[] = [];
  afterEach(async () => {
    for (const p of phones.splice(0)) p.hangUp();
    for (const c of controls.splice(0)) c.close();
    for (const s of sockets.splice(0)) s.close();
    for (const s of sides.splice(0)) {
      await s.host.close();
      await s.media.close();
    }
  });

  function mesh(...names: string[]): Side[] {
    const made = names.map((n) => side(n));
    sides.push(...made);
    return made;
  }

  async function dial(s: Side, participant: string, freq: number): Promise<TonePhone> {
    const phone = await TonePhone.dial(s.media, conf, pid(participant), freq);
    phones.push(phone);
    return phone;
  }

  it("R4: a SIP caller on node A hears B's caller in its mix and the reverse (two nodes, one conference)", async () => {
    const [a, b] = mesh('node-a', 'node-b') as [Side, Side];
    const alice = await dial(a, 'alice', 440);
    const bob = await dial(b, 'bob', 1000);
    const control = new ControlStandIn([a.member, b.member]);
    controls.push(control);
    await control.join(conf.id, a.name, b.name);

    await until(() => link(b, a).packetsIn > 50 && link(a, b).packetsIn > 50, 5000, 'media both ways over the backplane');
    alice.clear();
    bob.clear();
    await until(() => bob.receivedSamples >= 16000 && alice.receivedSamples >= 16000, 5000, 'a second of mix at each phone');
    expect(bob.dominant(1000)).toBeGreaterThanOrEqual(435);
    expect(bob.dominant(1000)).toBeLessThanOrEqual(445);
    expect(alice.dominant(1000)).toBeGreaterThanOrEqual(995);
    expect(alice.dominant(1000)).toBeLessThanOrEqual(1005);

    // Each side publishes the other's caller as a remote source tagged with the link.
    expect(ownersOn(b)).toEqual(['alice/audio@backplane:local:node-a', 'bob/audio@local']);
    const ab = link(a, b);
    expect(ab).toMatchObject({ kind: 'local', streamsOut: 1, streamsIn: 1, srtpAuthFailures: 0, srtpReplays: 0 });
    expect(ab.dropped).toEqual({ wrongSource: 0, unknownSsrc: 0, malformed: 0, beforeConnect: 0 });
    // Reports flow (every ~200 ms here): RTT from LSR/DLSR, no loss on loopback.
    await until(() => link(a, b).rttMs !== undefined && link(b, a).rttMs !== undefined, 3000, 'RTT from RTCP');
    expect(link(a, b).rttMs).toBeLessThan(50);
    expect(link(a, b).lossIn).toBe(0);
    expect(control.errors).toEqual([]);
  });

  it('split horizon, full mesh of three: a stream from A reaches C exactly once, never via B', async () => {
    const [a, b, c] = mesh('node-a', 'node-b', 'node-c') as [Side, Side, Side];
    const alice = await dial(a, 'alice', 440);
    const bob = await dial(b, 'bob', 1000);
    const carol = await dial(c, 'carol', 1500);
    const control = new ControlStandIn([a.member, b.member, c.member]);
    controls.push(control);
    await control.join(conf.id, a.name, b.name);
    await control.join(conf.id, b.name, c.name);
    await control.join(conf.id, a.name, c.name);
    await until(() => link(c, a).packetsIn > 50 && link(c, b).packetsIn > 50 && link(a, b).packetsIn > 50, 5000, 'media on all three links');

    // C has Alice once, over A's link; B announces to C only its own caller.
    expect(ownersOn(c)).toEqual(['alice/audio@backplane:local:node-a', 'bob/audio@backplane:local:node-b', 'carol/audio@local']);
    expect(control.delivered.get('node-b>node-c')?.map((s) => s.owner)).toEqual(['bob']);
    for (const [from, to] of [[a, b], [a, c], [b, a], [b, c], [c, a], [c, b]] as const) expect(link(from, to).streamsOut).toBe(1);
    // Counters: what B sent to C is no more than Bob's own packets (Alice's never went that way).
    const bc = link(b, c).packetsOut;
    expect(bc).toBeLessThanOrEqual(bob.sent + 5);
    expect(link(c, b).packetsIn).toBeLessThanOrEqual(bob.sent + 5);

    carol.clear();
    alice.clear();
    await until(() => carol.receivedSamples >= 16000 && alice.receivedSamples >= 16000, 5000, 'a second of mix');
    // Carol hears Alice and Bob; Alice hears Bob and Carol (and not herself).
    expect(carol.power(440, 1000)).toBeGreaterThan(0.05);
    expect(carol.power(1000, 1000)).toBeGreaterThan(0.05);
    expect(alice.power(1000, 1000)).toBeGreaterThan(0.05);
    expect(alice.power(1500, 1000)).toBeGreaterThan(0.05);
    expect(alice.power(440, 1000)).toBeLessThan(0.01);
    expect(control.errors).toEqual([]);
  });

  it('closing a link: the peer retracts what it had from it (setRemoteStreams([])), and the mix goes on without it', async () => {
    const [a, b] = mesh('node-a', 'node-b') as [Side, Side];
    await dial(a, 'alice', 440);
    const bob = await dial(b, 'bob', 1000);
    const control = new ControlStandIn([a.member, b.member]);
    controls.push(control);
    const told: string[] = [];
    a.host.events.on('localStreams', (_c, peer, streams) => told.push(`${peer}:${streams.length}`));
    await control.join(conf.id, a.name, b.name);
    await until(() => link(b, a).packetsIn > 20, 5000, 'media from A');
    await control.leave(conf.id, a.name, b.name);
    expect(told.at(-1)).toBe('node-b:0'); // the closing link told its (now empty) list
    expect(a.host.stats()).toEqual([]);
    expect(ownersOn(b)).toEqual(['bob/audio@local']);
    expect(link(b, a).streamsIn).toBe(0);
    // Closing again is fine (idempotent), on either side.
    await a.host.closeLink(conf.id, b.name);
    await b.host.closeLink(conf.id, a.name);
    await b.host.closeLink(conf.id, a.name);
    expect(bob.sent).toBeGreaterThan(0);
  });

  it("a conference's router closing closes its links (linkClosed), and a conference without media here is 'not-found'", async () => {
    const [a, b] = mesh('node-a', 'node-b') as [Side, Side];
    await expect(a.host.openLink(conf.id, b.name)).rejects.toMatchObject({ code: 'not-found' });
    const alice = await dial(a, 'alice', 440);
    await dial(b, 'bob', 1000);
    const control = new ControlStandIn([a.member, b.member]);
    controls.push(control);
    // Two concurrent opens of one (conference, peer) get one link.
    const [x, y] = await Promise.all([a.host.openLink(conf.id, b.name), a.host.openLink(conf.id, b.name)]);
    expect(x).toEqual(y);
    await control.join(conf.id, a.name, b.name);
    expect(a.host.stats()).toHaveLength(1);
    expect(link(a, b).local).toEqual(x);

    const closed: string[] = [];
    a.host.events.on('linkClosed', (c, peer, reason) => closed.push(`${c}/${peer}: ${reason}`));
    alice.hangUp();
    a.media.removeParticipant(pid('alice'));
    expect(closed).toEqual(['c-mesh/node-b: conference media ended']);
    expect(a.host.stats()).toEqual([]);
    expect(() => a.host.setRemoteStreams(conf.id, b.name, [])).toThrow(expect.objectContaining({ code: 'not-found' }));
    // Its port pair is free again: a new link can bind the range.
    await dial(a, 'alice2', 440);
    await expect(a.host.openLink(conf.id, b.name)).resolves.toMatchObject({ address: '127.0.0.1' });
  });

  it('refuses a forged or replayed SRTP packet, a packet from another address and an unannounced SSRC: counted, nothing changes', async () => {
    const [a, b] = mesh('node-a', 'node-b') as [Side, Side];
    await dial(a, 'alice', 440);
    const bob = await dial(b, 'bob', 1000);
    // A relay between the two links: the test sees (and can forge) what A sends B.
    const relay = await relayBetween(sockets);
    const control = new ControlStandIn([a.member, b.member]);
    controls.push(control);
    control.redirect.set('node-a>node-b', relay.addr);
    control.redirect.set('node-b>node-a', relay.addr);
    const captured: Buffer[] = [];
    relay.fromA((msg) => {
      if (captured.length < 50 && (msg[1] as number) < 192) captured.push(Buffer.from(msg));
      return true;
    });
    await control.join(conf.id, a.name, b.name);
    relay.ends.a = link(a, b).local.port;
    relay.ends.b = link(b, a).local.port;
    const bPort = relay.ends.b;
    const relaySocket = sockets[sockets.length - 1] as dgram.Socket;
    await until(() => link(b, a).packetsIn > 50 && captured.length >= 50, 5000, 'media through the relay');
    const before = link(b, a);
    const sourcesBefore = ownersOn(b);
    const send = (buf: Buffer, from: dgram.Socket = relaySocket): Promise<void> => new Promise((r) => from.send(buf, bPort, '127.0.0.1', () => r()));

    // A packet of a sequence number B has not seen, its payload altered: the tag does not match.
    const forged = Buffer.from(captured[captured.length - 1] as Buffer);
    forged.writeUInt16BE((forged.readUInt16BE(2) + 500) & 0xffff, 2);
    forged[20] = (forged[20] as number) ^ 0x40;
    await send(forged);
    await send(captured[captured.length - 2] as Buffer); // replayed (B accepted it through the relay)
    const stranger = dgram.createSocket('udp4');
    sockets.push(stranger);
    await new Promise<void>((r) => stranger.bind(0, '127.0.0.1', () => r()));
    await send(captured[captured.length - 1] as Buffer, stranger); // right bytes, wrong sender
    const unknown = buildRtp(96, false, 1, 1, 0xdeadbeef, Buffer.alloc(170));
    await send(unknown);
    await until(() => link(b, a).srtpAuthFailures === 1 && link(b, a).srtpReplays === 1 && link(b, a).dropped.wrongSource === 1 && link(b, a).dropped.unknownSsrc === 1, 3000, 'the refusals counted').catch((err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(link(b, a))}`);
    });

    const after = link(b, a);
    expect(after.srtpAuthFailures).toBe(before.srtpAuthFailures + 1);
    expect(ownersOn(b)).toEqual(sourcesBefore);
    expect(after.streamsIn).toBe(1);
    // B's caller still hears A's tone: nothing of the conference changed.
    bob.clear();
    await until(() => bob.receivedSamples >= 16000, 5000, 'mix after the forgeries');
    expect(Math.abs(bob.dominant(1000) - 440)).toBeLessThanOrEqual(5);
  });

  it('NACK: a packet lost on the way is asked for by B and sent again by A from its ring (same SRTP bytes)', async () => {
    const [a, b] = mesh('node-a', 'node-b') as [Side, Side];
    await dial(a, 'alice', 440);
    await dial(b, 'bob', 1000);
    const relay = await relayBetween(sockets);
    const control = new ControlStandIn([a.member, b.member]);
    controls.push(control);
    control.redirect.set('node-a>node-b', relay.addr);
    control.redirect.set('node-b>node-a', relay.addr);
    let rtp = 0;
    let droppedOnce = false;
    relay.fromA((msg) => {
      if ((msg[1] as number) >= 192) return true; // RTCP passes
      rtp++;
      if (rtp === 40 && !droppedOnce) {
        droppedOnce = true;
        return false;
      }
      return true;
    });
    await control.join(conf.id, a.name, b.name);
    relay.ends.a = link(a, b).local.port;
    relay.ends.b = link(b, a).local.port;
    await until(() => link(a, b).retransmitted >= 1, 5000, 'the retransmission');
    // One packet was lost on the way (loopback may reorder another now and then: at least one).
    expect(link(b, a).nacksOut).toBeGreaterThanOrEqual(1);
    expect(link(a, b).nacksIn).toBeGreaterThanOrEqual(1);
    await until(() => link(b, a).packetsIn > 60, 3000, 'more media');
    // The retransmitted packet filled the gap: nothing counts as lost.
    expect(link(b, a).lossIn).toBe(0);
    expect(link(b, a).srtpReplays).toBe(0);
  });

  it('keyframes across the backplane: a PLI asked on B for A\'s video reaches A\'s SIP video phone (through both throttles)', async () => {
    const [a, b] = mesh('node-a', 'node-b') as [Side, Side];
    const confV = { id: asConferenceId('c-video'), name: 'video', videoCodec: 'H264' as const };
    // A SIP phone with video on A: RTP on one socket, RTCP (where PLIs arrive) on another.
    const local = await a.media.createRtpParticipant(confV, pid('vera'), true, true);
    const [vRtp, vRtcp, aRtp] = [dgram.createSocket('udp4'), dgram.createSocket('udp4'), dgram.createSocket('udp4')];
    sockets.push(vRtp, vRtcp, aRtp);
    for (const s of [vRtp, vRtcp, aRtp]) await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    const plis: number[] = [];
    vRtcp.on('message', (msg) => {
      if (msg.includes(Buffer.from([0x81, 206]))) plis.push(Date.now());
    });
    a.media.updateRtpParticipant(pid('vera'), {
      remote: { address: '127.0.0.1', rtpPort: aRtp.address().port, rtcpMux: false, payloadTypes: [0] },
      direction: 'sendrecv',
      format: { name: 'PCMU', payloadType: 0, clockRate: 8000, channels: 1 },
      video: { remote: { address: '127.0.0.1', rtpPort: vRtp.address().port, rtcpPort: vRtcp.address().port, rtcpMux: false, payloadTypes: [96], clockRate: 90000 }, direction: 'sendrecv', payloadType: 96 },
    });
    let vseq = 0;
    const videoTimer = setInterval(() => {
      const nal = vseq % 30 === 0 ? 0x65 : 0x41;
      vRtp.send(buildRtp(96, true, vseq & 0xffff, (vseq * 3000) >>> 0, 0x0e0e0e0e, Buffer.from([nal, 0x88, 0x80, 0x10])), local.video?.rtpPort ?? 0, '127.0.0.1');
      vseq++;
    }, 33);
    try {
      const bob = await TonePhone.dial(b.media, confV, pid('bob'), 1000);
      phones.push(bob);
      const control = new ControlStandIn([a.member, b.member]);
      controls.push(control);
      await control.join(confV.id, a.name, b.name);
      await until(() => link(b, a, confV.id).packetsIn > 10 && ownersOn(b, confV.id).includes('vera/video@backplane:local:node-a'), 5000, "vera's video on B");

      // A viewer on B asks for a keyframe of Vera's video (what a browser's PLI does).
      const routerB = b.media.routerOf(confV.id);
      const source = routerB?.sources().find((x) => x.owner === 'vera' && x.kind === 'video');
      if (!routerB || !source) throw new Error("no remote video source on B");
      const probe = { kind: 'video' as const, owner: undefined, excludeMeshTag: 'test:probe', onKeyframeRequest: null as ((s: typeof source) => void) | null, send: () => true };
      routerB.addRemoteSink(probe);
      await new Promise((r) => setTimeout(r, 600)); // past both throttles' intervals
      const [outBefore, inBefore] = [link(b, a, confV.id).keyframeRequestsOut, link(a, b, confV.id).keyframeRequestsIn];
      const asked = Date.now();
      probe.onKeyframeRequest?.(source);
      await until(() => link(a, b, confV.id).keyframeRequestsIn > inBefore && plis.some((t) => t >= asked), 3000, 'the PLI at the phone');
      expect(link(b, a, confV.id).keyframeRequestsOut).toBeGreaterThan(outBefore);
    } finally {
      clearInterval(videoTimer);
    }
  });

  it('nodes[].public_address: a link announces the public address for the peer to send to; its socket stays on the node address', async () => {
    const a = side('nat-a', '203.0.113.8');
    sides.push(a);
    await dial(a, 'amy', 440);
    const addr = await a.host.openLink(conf.id, asNodeId('peer-b'));
    expect(addr.address).toBe('203.0.113.8');
    expect(a.host.stats()[0]?.local.address).toBe('127.0.0.1');
  });

  it('R9: a stream crosses between two locations once, through the proxies, and reaches every node of the far location once', async () => {
    // Location L1: a1 (proxy), a2. Location L2: b1 (proxy), b2.
    const [a1, a2, b1, b2] = mesh('a1', 'a2', 'b1', 'b2') as [Side, Side, Side, Side];
    await dial(a1, 'amy', 440);
    await dial(a2, 'alice', 660);
    await dial(b1, 'ben', 880);
    await dial(b2, 'bob', 1000);
    const control = new ControlStandIn([a1.member, a2.member, b1.member, b2.member]);
    controls.push(control);
    await control.join(conf.id, a1.name, a2.name, { kind: 'local' });
    await control.join(conf.id, b1.name, b2.name, { kind: 'local' });
    await control.join(conf.id, a1.name, b1.name, { kind: 'geo' });
    await until(() => ownersOn(b2).length === 4 && ownersOn(a2).length === 4 && link(b1, b2).packetsOut > 50, 5000, 'every stream everywhere');

    // Far location: each L1 stream arrives once, from b1 (its proxy), none over another path.
    expect(ownersOn(b2)).toEqual(['alice/audio@backplane:local:b1', 'amy/audio@backplane:local:b1', 'ben/audio@backplane:local:b1', 'bob/audio@local']);
    expect(ownersOn(b1)).toEqual(['alice/audio@backplane:geo:a1', 'amy/audio@backplane:geo:a1', 'ben/audio@local', 'bob/audio@backplane:local:b2']);
    expect(ownersOn(a2)).toEqual(['alice/audio@local', 'amy/audio@backplane:local:a1', 'ben/audio@backplane:local:a1', 'bob/audio@backplane:local:a1']);
    // One copy per stream per location pair: the geo link carries L1's two streams one way, L2's two the other.
    expect(link(a1, b1)).toMatchObject({ kind: 'geo', streamsOut: 2, streamsIn: 2 });
    expect(link(b1, a1)).toMatchObject({ kind: 'geo', streamsOut: 2, streamsIn: 2 });
    // Split horizon by kind: the proxy relays geo -> local and local -> geo, never local -> local.
    expect(control.delivered.get('a1>a2')?.map((s) => s.owner).sort()).toEqual(['amy', 'ben', 'bob']);
    expect(control.delivered.get('a2>a1')?.map((s) => s.owner)).toEqual(['alice']);
    expect(control.delivered.get('b2>b1')?.map((s) => s.owner)).toEqual(['bob']);
    expect(control.delivered.get('a1>b1')?.map((s) => s.owner).sort()).toEqual(['alice', 'amy']);
    expect(control.errors).toEqual([]);
  });

  it('a simulated WAN on a geo link: RTT from RTCP matches twice the one-way delay within 10%; lost packets are asked for again', async () => {
    const [a1, b1] = mesh('w1', 'w2') as [Side, Side];
    await dial(a1, 'amy', 440);
    await dial(b1, 'bob', 1000);
    const control = new ControlStandIn([a1.member, b1.member]);
    controls.push(control);
    await control.join(conf.id, a1.name, b1.name, { kind: 'geo', wan: { delayMs: 40, jitterMs: 2, loss: 0.05 } });
    await until(() => (link(a1, b1).rttMs ?? 0) > 0 && link(b1, a1).nacksOut > 0 && link(a1, b1).retransmitted > 0, 8000, 'RTT and a NACK');
    const rtt = link(a1, b1).rttMs ?? 0;
    expect(rtt).toBeGreaterThan(80 * 0.9);
    expect(rtt).toBeLessThan(80 * 1.1);
    expect(link(a1, b1).wanSim?.dropped).toBeGreaterThan(0);
  });
});
