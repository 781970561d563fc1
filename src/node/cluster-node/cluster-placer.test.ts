import { ConfnodeError, FakeClock, asConferenceId, asParticipantId, silentLogger } from '../../common';
import { ClusterState, MemoryStoreBackend, type NodeRecord } from '../cluster';
import { CapacityLedger } from '../conference/capacity-ledger';
import { ClusterPlacer } from './cluster-placer';
import { MediaMembership } from './membership';

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function nodeRecord(name: string, capacity = 1.5): NodeRecord {
  const ep = { address: '127.0.0.1', port: 1 };
  return { name, location: 'USA', sip: ep, http: ep, control: ep, capacity, load: 0, state: 'active', version: 't' };
}

/**
 * Media node X of location USA (capacity 1.5, audio 0.25, backplane 1) with a real ClusterState on
 * the memory store; `others` are the other nodes registered in the location.
 */
async function mediaNodeX(others: string[]): Promise<{ placer: ClusterPlacer; ledger: CapacityLedger; state: ClusterState; close(): void }> {
  const clock = new FakeClock();
  const backend = new MemoryStoreBackend({ clock, historyLimit: 100 });
  const states = ['X', ...others].map(() => new ClusterState({ store: backend.client(), clock, newInstanceId: () => 'i1' }));
  await Promise.all(states.map((s, i) => s.register(nodeRecord(i === 0 ? 'X' : (others[i - 1] ?? '?')))));
  await Promise.all(states.map((s) => s.start()));
  await flush();
  const state = states[0] as ClusterState;
  const ledger = new CapacityLedger(1.5);
  const membership = new MediaMembership(ledger);
  const placer = new ClusterPlacer({
    nodeName: 'X',
    location: 'USA',
    state,
    ledger,
    membership,
    remote: { reserve: () => Promise.resolve(), release: () => undefined },
    alive: (n) => state.node(n) !== undefined,
    backplaneCost: 1,
    logger: silentLogger,
    clock,
    draining: () => false,
    unlisted: () => [],
  });
  // What ClusterNode does on conference-changed: a media node with partners pays the backplane.
  state.events.on('conference-changed', (c) => {
    if (c.kind !== 'location') return;
    const media = c.record?.mediaNodes ?? [];
    membership.setBackplaneCharge(c.conference, media.includes('X') && media.some((m) => m !== 'X'), 1);
  });
  return { placer, ledger, state, close: () => states.forEach((s) => s.close()) };
}

const request = (n: number): Parameters<ClusterPlacer['reserveForPeer']>[1] => ({
  participant: asParticipantId(`p${n}`),
  conference: 'race',
  conferenceId: asConferenceId('i1'),
  cost: 0.25,
});

describe('ClusterPlacer: the media node keeps what decidePlacement keeps (R4, R5)', () => {
  it('R4: a lone media node refuses peers\' callers that would take the unit it keeps for the first backplane', async () => {
    const x = await mediaNodeX(['Y', 'Z']);
    try {
      expect(await x.state.casConferenceLocation('race', 'USA', 0, { conference: 'race', instanceId: 'i1', location: 'USA', mediaNodes: ['X'] })).toBe(true);
      // Three signaling nodes decided on X's stale load at once: only two callers fit beside the reserve.
      x.placer.reserveForPeer('A', request(1));
      x.placer.reserveForPeer('B', request(2));
      expect(() => x.placer.reserveForPeer('C', request(3))).toThrow(ConfnodeError);
      expect(x.ledger.load).toBe(0.5);
      // Expanding to a second node charges X the backplane: it fits exactly.
      const loc = x.state.conferenceLocation('race', 'USA');
      expect(await x.state.casConferenceLocation('race', 'USA', loc?.modRevision ?? 0, { conference: 'race', instanceId: 'i1', location: 'USA', mediaNodes: ['X', 'Y'] })).toBe(true);
      expect(x.ledger.load).toBe(1.5);
    } finally {
      x.close();
    }
  });

  it('R4: a node joining other media nodes keeps the backplane unit it is about to be charged', async () => {
    const x = await mediaNodeX(['Y']);
    try {
      // Y's placer expanded to X; X has not seen the record yet or sees itself listed without the charge.
      expect(await x.state.casConferenceLocation('race', 'USA', 0, { conference: 'race', instanceId: 'i1', location: 'USA', mediaNodes: ['Y'] })).toBe(true);
      x.placer.reserveForPeer('A', request(1));
      x.placer.reserveForPeer('B', request(2));
      expect(() => x.placer.reserveForPeer('C', request(3))).toThrow(/backplane 1/);
      const loc = x.state.conferenceLocation('race', 'USA');
      await x.state.casConferenceLocation('race', 'USA', loc?.modRevision ?? 0, { conference: 'race', instanceId: 'i1', location: 'USA', mediaNodes: ['Y', 'X'] });
      expect(x.ledger.load).toBe(1.5);
    } finally {
      x.close();
    }
  });

  it('a lone node with nowhere to expand to keeps nothing back (R4 needs another node)', async () => {
    const x = await mediaNodeX([]);
    try {
      expect(await x.state.casConferenceLocation('race', 'USA', 0, { conference: 'race', instanceId: 'i1', location: 'USA', mediaNodes: ['X'] })).toBe(true);
      for (let i = 1; i <= 6; i++) x.placer.reserveForPeer('A', request(i));
      expect(() => x.placer.reserveForPeer('A', request(7))).toThrow(ConfnodeError);
      expect(x.ledger.load).toBe(1.5);
    } finally {
      x.close();
    }
  });
});
