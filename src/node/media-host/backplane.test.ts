import { ControlStandIn, TonePhone, until, type MeshMember } from '../../backplane/test-mesh';
import { asConferenceId, asNodeId, asParticipantId, silentLogger, systemClock, type NodeId } from '../../common';
import { builtWorkerService } from './built-service';
import { LocalMediaHost } from './local-host';
import type { MediaHost } from './media-host';

jest.setTimeout(60_000);

const conference = { id: asConferenceId('c-hosts'), name: 'hosts' };

function member(name: NodeId, host: MediaHost): MeshMember {
  return {
    name,
    openBackplane: (c, p) => host.openBackplane(c, p),
    connectBackplane: (c, p, r, k) => host.connectBackplane(c, p, r, k),
    setBackplaneStreams: (c, p, s) => host.setBackplaneStreams(c, p, s),
    closeBackplane: (c, p) => host.closeBackplane(c, p),
    onLocalStreams: (fn) => host.backplane.on('localStreams', fn),
  };
}

describe('MediaHost: backplanes from the main thread, to a media worker thread and in-thread (media.workers: 0)', () => {
  const hosts: MediaHost[] = [];
  const phones: TonePhone[] = [];
  let control: ControlStandIn | undefined;
  afterEach(async () => {
    for (const p of phones.splice(0)) p.hangUp();
    control?.close();
    for (const h of hosts.splice(0)) await h.close();
  });

  it('a worker-thread node and an in-thread node: each caller hears the other, links show in stats, a worker link closes with its conference', async () => {
    // Ports of this file only (jest runs test files in parallel).
    const a = await builtWorkerService({ workers: 1, rtpPorts: { min: 46300, max: 46339 }, snapshotMs: 100 });
    hosts.push(a);
    const b = new LocalMediaHost({ address: '127.0.0.1', rtpPorts: { min: 46340, max: 46379 }, clock: systemClock, logger: silentLogger, mixTalkers: 3, jitterBufferMs: 40, opusComplexity: 3 });
    hosts.push(b);
    const [na, nb] = [asNodeId('worker-node'), asNodeId('local-node')];

    // No media of the conference yet: nothing to join a backplane to.
    await expect(a.openBackplane(conference.id, nb)).rejects.toMatchObject({ code: 'not-found' });
    await expect(b.openBackplane(conference.id, na)).rejects.toMatchObject({ code: 'not-found' });

    const alice = await TonePhone.dial(a, conference, asParticipantId('alice'), 440);
    const bob = await TonePhone.dial(b, conference, asParticipantId('bob'), 1000);
    phones.push(alice, bob);
    control = new ControlStandIn([member(na, a), member(nb, b)]);
    await control.join(conference.id, na, nb);

    const linkOf = (h: MediaHost) => h.backplaneStats().find((l) => l.conference === conference.id);
    await until(() => (linkOf(a)?.packetsIn ?? 0) > 30 && (linkOf(b)?.packetsIn ?? 0) > 30, 8000, 'media both ways (worker stats by snapshot)');
    alice.clear();
    bob.clear();
    await until(() => alice.receivedSamples >= 16000 && bob.receivedSamples >= 16000, 5000, 'a second of mix at each phone');
    expect(Math.abs(bob.dominant(1000) - 440)).toBeLessThanOrEqual(5);
    expect(Math.abs(alice.dominant(1000) - 1000)).toBeLessThanOrEqual(5);
    expect(linkOf(a)).toMatchObject({ peer: nb, streamsIn: 1, streamsOut: 1, srtpAuthFailures: 0 });
    expect(control.errors).toEqual([]);

    // The worker's conference ends: its link closes and the main thread hears of it.
    const closed: string[] = [];
    a.backplane.on('linkClosed', (c, peer, reason) => closed.push(`${c}/${peer}: ${reason}`));
    alice.hangUp();
    a.removeParticipant(asParticipantId('alice'));
    await until(() => closed.length > 0, 5000, 'linkClosed from the worker');
    expect(closed).toEqual(['c-hosts/local-node: conference media ended']);
    await expect(a.setBackplaneStreams(conference.id, nb, [])).rejects.toMatchObject({ code: 'not-found' });
    await a.closeBackplane(conference.id, nb); // idempotent
    // The in-thread side retracts when told (what the lead does on linkClosed).
    await b.setBackplaneStreams(conference.id, na, []);
    expect(b.backplaneStats()[0]?.streamsIn).toBe(0);
  });
});
