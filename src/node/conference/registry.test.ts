import { FakeClock, asConferenceId, silentLogger } from '../../common';
import { LocalMediaService } from '../../media';
import { AdminLog } from '../admin-log';
import { parseConfig, defaultConfigInput, type VmrConfig } from '../config';
import { Admission } from './admission';
import { CapacityLedger } from './capacity-ledger';
import { LocalPlacer } from './placer';
import { ConferenceRegistry, type PlacementResult } from './registry';
import { Roster } from './roster';

const VMR: VmrConfig = { name: 'meet', aliases: ['meet'], video_codec: 'H264', require_token: false };
const SMALL: VmrConfig = { name: 'small', aliases: ['small'], video_codec: 'H264', max_participants: 2, require_token: false };
const HERE: PlacementResult = { conferenceId: asConferenceId('conf-1'), mediaNode: 'node1', reason: 'least-loaded' };

function makeRegistry(): { registry: ConferenceRegistry; media: LocalMediaService } {
  const media = new LocalMediaService({
    address: '127.0.0.1',
    rtpPorts: { min: 43000, max: 43099 },
    clock: new FakeClock(),
    logger: silentLogger,
    mixTalkers: 3,
    jitterBufferMs: 60,
    opusComplexity: 3,
  });
  return { registry: new ConferenceRegistry({ logger: silentLogger, media }), media };
}

/** The single node's admission path: the registry, its ledger and the local placer. */
function makeNode(capacity: number) {
  const { registry, media } = makeRegistry();
  const config = parseConfig({ ...defaultConfigInput(), vmrs: [VMR, SMALL] });
  const ledger = new CapacityLedger(capacity);
  const placer = new LocalPlacer({ nodeName: 'node1', location: 'local', ledger, backplaneCost: 1, runningConference: (n) => registry.conference(n)?.id });
  const adminLog = new AdminLog(silentLogger);
  const admission = new Admission({ config, registry, placer, adminLog });
  return { registry, media, ledger, admission, adminLog };
}

const joinReq = (hangups: string[], name: string) => ({
  protocol: 'sip' as const,
  displayName: name,
  remote: 'udp:127.0.0.1:5062',
  cost: 0.25,
  hangup: async () => {
    hangups.push(name);
  },
});

describe('ConferenceRegistry (bookkeeping)', () => {
  it('a conference instance starts on first join with the placement conference id, and ends after the last leave', () => {
    const { registry } = makeRegistry();
    const started: string[] = [];
    const ended: string[] = [];
    registry.events.on('conference-started', (c) => started.push(`${c.vmr.name}/${c.id}`));
    registry.events.on('conference-ended', (c) => ended.push(c.vmr.name));
    const a = registry.join(VMR, joinReq([], 'a'), HERE);
    // A later placement that minted another id joins the instance already running here.
    const b = registry.join(VMR, joinReq([], 'b'), { ...HERE, conferenceId: asConferenceId('other'), reason: 'affinity' });
    expect(a.conference).toBe(b.conference);
    expect(started).toEqual(['meet/conf-1']);
    expect([a.placementReason, b.placementReason, b.mediaNode]).toEqual(['least-loaded', 'affinity', 'node1']);
    registry.leave(a.id);
    expect(ended).toEqual([]);
    registry.leave(b.id);
    expect(ended).toEqual(['meet']);
    expect(registry.conferences()).toEqual([]);
  });

  it('update() changes a participant and tells listeners once per real change', () => {
    const { registry } = makeRegistry();
    const a = registry.join(VMR, joinReq([], 'a'), HERE);
    const updates: string[] = [];
    registry.events.on('participant-updated', (p) => updates.push(`${p.role}:${String(p.onHold)}`));
    registry.update(a.id, { role: 'host' });
    registry.update(a.id, { role: 'host' });
    registry.update(a.id, { onHold: true });
    expect(updates).toEqual(['host:undefined', 'host:true']);
  });

  it('endConference() hangs up every participant of that conference only', async () => {
    const { registry } = makeRegistry();
    const hangups: string[] = [];
    registry.join(VMR, joinReq(hangups, 'a'), HERE);
    registry.join(VMR, joinReq(hangups, 'b'), HERE);
    registry.join(SMALL, joinReq(hangups, 'c'), { ...HERE, conferenceId: asConferenceId('conf-2') });
    expect(await registry.endConference('meet')).toBe(2);
    expect(hangups.sort()).toEqual(['a', 'b']);
    expect(await registry.endConference('nope')).toBe(0);
  });

  it("leave() releases the participant's media and reports its final counters", () => {
    const { registry, media } = makeRegistry();
    const a = registry.join(VMR, joinReq([], 'a'), HERE);
    const removeSpy = jest.spyOn(media, 'removeParticipant');
    const left: string[] = [];
    registry.events.on('participant-left', (rec) => left.push(rec.displayName));
    registry.leave(a.id);
    registry.leave(a.id); // unknown id: no-op
    expect(removeSpy).toHaveBeenCalledTimes(1);
    expect(left).toEqual(['a']);
  });
});

describe('Admission: one path for SIP calls and browsers', () => {
  it('R2/R3 on one node: the first caller starts the conference (least-loaded), the next joins it (affinity)', async () => {
    const { admission, ledger } = makeNode(10);
    const a = await admission.admit(VMR, joinReq([], 'a'), 'Call', 'sip:a@x');
    const b = await admission.admit(VMR, joinReq([], 'b'), 'Call', 'sip:b@x');
    expect([a.placementReason, b.placementReason]).toEqual(['least-loaded', 'affinity']);
    expect([a.mediaNode, b.mediaNode]).toEqual(['node1', 'node1']);
    expect(b.conference.id).toBe(a.conference.id);
    expect(ledger.load).toBe(0.5);
  });

  it('capacity: four audio callers fill one unit; the fifth is refused (SIP 503) and the admin log says why', async () => {
    const { admission, adminLog, ledger } = makeNode(1);
    for (let i = 0; i < 4; i++) await admission.admit(VMR, joinReq([], `p${i}`), 'Call', 'sip:p@x');
    await expect(admission.admit(VMR, joinReq([], 'p5'), 'Call', 'sip:p5@x')).rejects.toMatchObject({ code: 'capacity' });
    expect(adminLog.list().at(-1)).toMatchObject({ message: expect.stringMatching(/^Call rejected: node full/), conference: 'meet' });
    expect(ledger.load).toBe(1);
  });

  it('a participant who leaves gives its capacity back, however its call ended', async () => {
    const { admission, registry, ledger } = makeNode(1);
    const a = await admission.admit(VMR, joinReq([], 'a'), 'Browser', 'ws:1');
    expect(ledger.load).toBe(0.25);
    registry.leave(a.id);
    expect(ledger.load).toBe(0);
  });

  it('max_participants of a VMR refuses the next caller', async () => {
    const { admission } = makeNode(10);
    await admission.admit(SMALL, joinReq([], 'a'), 'Call', 'x');
    await admission.admit(SMALL, joinReq([], 'b'), 'Call', 'x');
    await expect(admission.admit(SMALL, joinReq([], 'c'), 'Call', 'x')).rejects.toThrow(/full/);
  });

  it('an unknown alias is not-found (SIP 404), worded per caller in the admin log', () => {
    const { admission, adminLog } = makeNode(10);
    expect(() => admission.findVmr('nope', 'example.com', 'Call', 'sip:a@x')).toThrow(expect.objectContaining({ code: 'not-found' }));
    expect(() => admission.findVmr('nope', 'example.com', 'Browser', 'ws:1')).toThrow(/no room 'nope@example.com'/);
    expect(adminLog.list().map((e) => e.message)).toEqual(["Call rejected: no conference alias 'nope'", "Browser rejected: no conference alias 'nope@example.com'"]);
    expect(admission.findVmr('MEET', undefined, 'Call', 'x').name).toBe('meet');
  });
});

describe('Roster: the participant list by events, never polled', () => {
  it('joins, updates and leaves of a burst raise one change; peers announce their participants', async () => {
    const { registry } = makeRegistry();
    const roster = new Roster(registry, 'node1');
    const changes: string[] = [];
    roster.events.on('changed', (c) => changes.push(c));
    const a = registry.join(VMR, joinReq([], 'a'), HERE);
    registry.update(a.id, { role: 'waiting-for-pin' });
    await Promise.resolve();
    expect(changes).toEqual(['conf-1']);
    expect(roster.entries(HERE.conferenceId)).toEqual([{ id: a.id, name: 'a', protocol: 'sip', audio: false, video: false, node: 'node1' }]);
    const remote = { id: a.id.replace(/./, 'z') as typeof a.id, name: 'Bob', protocol: 'webrtc' as const, audio: true, video: true, node: 'node2' };
    roster.setRemote('node2', HERE.conferenceId, [remote]);
    await Promise.resolve();
    expect(roster.entries(HERE.conferenceId).map((e) => `${e.name}@${e.node}`)).toEqual(['a@node1', 'Bob@node2']);
    roster.dropNode('node2');
    await Promise.resolve();
    expect(roster.size(HERE.conferenceId)).toBe(1);
    expect(changes).toEqual(['conf-1', 'conf-1', 'conf-1']);
  });

  it('the active speaker changes are raised once each', () => {
    const { registry } = makeRegistry();
    const roster = new Roster(registry, 'node1');
    const seen: Array<string | undefined> = [];
    roster.events.on('speaker', (_c, p) => seen.push(p));
    const a = registry.join(VMR, joinReq([], 'a'), HERE);
    roster.setActiveSpeaker(HERE.conferenceId, a.id);
    roster.setActiveSpeaker(HERE.conferenceId, a.id);
    roster.setActiveSpeaker(HERE.conferenceId, undefined);
    expect(seen).toEqual([a.id, undefined]);
    expect(roster.activeSpeaker(HERE.conferenceId)).toBeUndefined();
  });
});
