import { FakeClock, type Logger } from '../../common';
import { ClusterState, type ClusterStateOptions, type ConferenceChange } from './cluster-state';
import type { ConferenceLocationRecord, NodeRecord } from './cluster-records';
import { MemoryStoreBackend, type MemoryClusterStore } from './memory-store';
import type { ClusterStore, TxnRequest, TxnResult } from './store';

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function nodeRecord(name: string, extra: Partial<NodeRecord> = {}): NodeRecord {
  const ep = (port: number): { address: string; port: number } => ({ address: '127.0.0.1', port });
  return { name, location: 'USA', sip: ep(5060), http: ep(8080), control: ep(9000), capacity: 2, load: 0, state: 'active', version: '0.1.0', ...extra };
}

function locationRecord(conference: string, location: string, instanceId: string, mediaNodes: string[]): ConferenceLocationRecord {
  return { conference, instanceId, location, mediaNodes };
}

interface Captured extends Logger {
  warnings: string[];
}
function captureLogger(): Captured {
  const warnings: string[] = [];
  const logger: Captured = {
    warnings,
    debug: () => undefined,
    info: () => undefined,
    warn: (_obj, msg) => warnings.push(msg ?? ''),
    error: (_obj, msg) => warnings.push(msg ?? ''),
    child: () => logger,
  };
  return logger;
}

/** Counts the transactions a ClusterState sends (DESIGN.md: one CAS per join in the common case). */
function counting(store: ClusterStore): { store: ClusterStore; txns: TxnRequest[] } {
  const txns: TxnRequest[] = [];
  const wrapped: ClusterStore = {
    get: (k) => store.get(k),
    range: (p) => store.range(p),
    txn: (r): Promise<TxnResult> => {
      txns.push(r);
      return store.txn(r);
    },
    watch: (p, f, l, o) => store.watch(p, f, l, o),
    grantLease: (t) => store.grantLease(t),
    close: () => store.close(),
  };
  return { store: wrapped, txns };
}

class World {
  readonly clock = new FakeClock();
  readonly backend = new MemoryStoreBackend({ clock: this.clock, historyLimit: 1000 });
  readonly states: ClusterState[] = [];
  private ids = 0;

  state(options: Partial<ClusterStateOptions> & { client?: MemoryClusterStore } = {}): ClusterState {
    const s = new ClusterState({
      store: options.client ?? this.backend.client(),
      clock: this.clock,
      leaseTtlSeconds: 3,
      wallClock: () => 1_700_000_000_000,
      newInstanceId: () => `instance-${++this.ids}`,
      ...options,
    });
    this.states.push(s);
    return s;
  }

  async pass(ms: number): Promise<void> {
    for (let t = 0; t < ms; t += 50) {
      this.clock.advance(Math.min(50, ms - t));
      await flush();
    }
    await flush();
  }

  close(): void {
    for (const s of this.states) s.close();
  }
}

describe('ClusterState: nodes', () => {
  let w: World;
  beforeEach(() => (w = new World()));
  afterEach(() => w.close());

  it('register(): every other instance sees node-up with the record; nodes() lists live nodes by name', async () => {
    const a = w.state();
    const b = w.state();
    await b.start();
    const ups: string[] = [];
    b.events.on('node-up', (n) => ups.push(n.name));
    await a.register(nodeRecord('USConf02'));
    await a.start();
    await w.pass(0);
    expect(ups).toEqual(['USConf02']);
    expect(b.nodes()).toEqual([nodeRecord('USConf02')]);
    expect(a.nodes().map((n) => n.name)).toEqual(['USConf02']);
    expect(a.registered).toBe(true);
  });

  it('updateLoad()/setState(): at most one write per 250 ms, the latest value wins; flush() writes at once', async () => {
    const a = w.state();
    const b = w.state();
    await b.start();
    await a.register(nodeRecord('n1'));
    const seen: Array<[number, number]> = [];
    b.events.on('node-updated', (n) => seen.push([w.clock.now(), n.load]));
    a.updateLoad(1);
    a.updateLoad(2);
    a.updateLoad(3);
    await w.pass(200);
    expect(seen).toEqual([]);
    await w.pass(100);
    expect(seen).toEqual([[250, 3]]);
    a.updateLoad(4);
    await w.pass(100);
    a.updateLoad(5);
    await w.pass(200);
    expect(seen).toEqual([
      [250, 3],
      [500, 5],
    ]);
    a.setState('draining');
    await a.flush();
    await w.pass(0);
    expect(b.node('n1')).toMatchObject({ state: 'draining', load: 5 });
  });

  it("a node's lease expiring (its process died) removes it from every other instance's cache: node-down", async () => {
    const deadClient = w.backend.client();
    const dead = w.state({ client: deadClient });
    const b = w.state();
    const c = w.state();
    await Promise.all([b.start(), c.start()]);
    await dead.register(nodeRecord('USConf03'));
    await w.pass(0);
    expect(b.nodes().map((n) => n.name)).toEqual(['USConf03']);
    const downs: string[] = [];
    b.events.on('node-down', (n) => downs.push(`b:${n.name}`));
    c.events.on('node-down', (n) => downs.push(`c:${n.name}`));
    // kill -9: no deregister, the keepalive just stops.
    dead.close();
    await deadClient.close();
    await w.pass(2900);
    expect(downs).toEqual([]);
    await w.pass(200);
    expect(downs).toEqual(['b:USConf03', 'c:USConf03']);
    expect(b.nodes()).toEqual([]);
    expect(c.nodes()).toEqual([]);
  });

  it('deregister(): the record goes at once, others see node-down', async () => {
    const a = w.state();
    const b = w.state();
    await b.start();
    await a.register(nodeRecord('n1'));
    await w.pass(0);
    await a.deregister();
    await w.pass(0);
    expect(b.nodes()).toEqual([]);
    expect(w.clock.pending()).toBe(0);
  });

  it('a lost lease (store unreachable past the TTL): others see node-down, then the node registers again on its own with its latest record', async () => {
    const client = w.backend.client();
    const a = w.state({ client });
    const b = w.state();
    await b.start();
    await a.register(nodeRecord('n1'));
    const log: string[] = [];
    a.events.on('registration-lost', () => log.push('a:lost'));
    a.events.on('registered', (n) => log.push(`a:registered load=${n.load}`));
    b.events.on('node-down', (n) => log.push(`b:down ${n.name}`));
    b.events.on('node-up', (n) => log.push(`b:up ${n.name} load=${n.load}`));
    client.setReachable(false);
    a.updateLoad(1.5);
    await w.pass(3100);
    expect([...log].sort()).toEqual(['a:lost', 'b:down n1']);
    client.setReachable(true);
    await w.pass(3000);
    expect(log.slice(2).sort()).toEqual(['a:registered load=1.5', 'b:up n1 load=1.5']);
    expect(a.registered).toBe(true);
  });
});

describe('ClusterState: conference location records (R5 by CAS)', () => {
  let w: World;
  beforeEach(() => (w = new World()));
  afterEach(() => w.close());

  it('the first join in a location is one transaction: the location record and the instance record together', async () => {
    const { store, txns } = counting(w.backend.client());
    const a = w.state({ store });
    await a.start();
    const id = a.proposeInstanceId('meet.alice');
    expect(await a.casConferenceLocation('meet.alice', 'USA', 0, locationRecord('meet.alice', 'USA', id, ['USConf02']))).toBe(true);
    expect(txns).toHaveLength(1);
    expect(a.instance('meet.alice')).toEqual({ instanceId: id, startedAt: 1_700_000_000_000 });
    expect(a.conferenceLocation('meet.alice', 'USA')?.record.mediaNodes).toEqual(['USConf02']);
    // An expansion is one more transaction, comparing the revision the cache holds.
    const cur = a.conferenceLocation('meet.alice', 'USA');
    expect(await a.casConferenceLocation('meet.alice', 'USA', cur?.modRevision ?? -1, locationRecord('meet.alice', 'USA', id, ['USConf02', 'USConf03']))).toBe(true);
    expect(txns).toHaveLength(2);
  });

  it('R5: two instances race CAS on one location: exactly one wins, the loser re-reads and sees the winner’s list, then decides again', async () => {
    const a = w.state();
    const b = w.state();
    await Promise.all([a.start(), b.start()]);
    const [wa, wb] = await Promise.all([
      a.casConferenceLocation('meet.alice', 'USA', 0, locationRecord('meet.alice', 'USA', a.proposeInstanceId('meet.alice'), ['USConf01'])),
      b.casConferenceLocation('meet.alice', 'USA', 0, locationRecord('meet.alice', 'USA', b.proposeInstanceId('meet.alice'), ['USConf02'])),
    ]);
    expect([wa, wb].filter(Boolean)).toHaveLength(1);
    const [winner, loser] = wa ? [a, b] : [b, a];
    const winnerList = winner.conferenceLocation('meet.alice', 'USA')?.record.mediaNodes;
    // Before any watch event could arrive: the loser's re-read already holds the winner's state.
    const seen = loser.conferenceLocation('meet.alice', 'USA');
    expect(seen?.record.mediaNodes).toEqual(winnerList);
    expect(loser.instance('meet.alice')).toEqual(winner.instance('meet.alice'));
    const again = await loser.casConferenceLocation('meet.alice', 'USA', seen?.modRevision ?? -1, {
      ...(seen?.record ?? locationRecord('x', 'y', 'z', [])),
      mediaNodes: [...(winnerList ?? []), 'USConf03'],
    });
    expect(again).toBe(true);
    await w.pass(0);
    expect(winner.conferenceLocation('meet.alice', 'USA')?.record.mediaNodes).toEqual([...(winnerList ?? []), 'USConf03']);
  });

  it('R5: a fourth media node is refused before anything is written', async () => {
    const a = w.state();
    await a.start();
    const rec = locationRecord('m', 'USA', 'i1', ['n1', 'n2', 'n3', 'n4']);
    await expect(a.casConferenceLocation('m', 'USA', 0, rec)).rejects.toMatchObject({ code: 'bad-request' });
    expect(a.conferences()).toEqual([]);
  });

  it('first joins in two locations at once agree on one instance id (the loser retries with the winner’s)', async () => {
    const usa = w.state();
    const mex = w.state();
    await Promise.all([usa.start(), mex.start()]);
    const [ru, rm] = await Promise.all([
      usa.casConferenceLocation('m', 'USA', 0, locationRecord('m', 'USA', usa.proposeInstanceId('m'), ['us1'])),
      mex.casConferenceLocation('m', 'Mexico', 0, locationRecord('m', 'Mexico', mex.proposeInstanceId('m'), ['mx1'])),
    ]);
    expect([ru, rm].filter(Boolean)).toHaveLength(1);
    const loser = ru ? mex : usa;
    const loc = ru ? 'Mexico' : 'USA';
    const id = loser.proposeInstanceId('m');
    expect(await loser.casConferenceLocation('m', loc, 0, locationRecord('m', loc, id, ['x1']))).toBe(true);
    await w.pass(0);
    expect(usa.conferenceLocations('m').map((l) => l.record.instanceId)).toEqual([id, id]);
    expect(mex.instance('m')?.instanceId).toBe(id);
  });

  it('deleting a location keeps the instance while another location runs; deleting the last one ends the instance', async () => {
    const a = w.state();
    await a.start();
    const changes: ConferenceChange[] = [];
    a.events.on('conference-changed', (c) => changes.push(c));
    const id = a.proposeInstanceId('m');
    await a.casConferenceLocation('m', 'USA', 0, locationRecord('m', 'USA', id, ['us1']));
    await a.casConferenceLocation('m', 'Canada', 0, locationRecord('m', 'Canada', id, ['ca1']));
    expect(await a.casConferenceLocation('m', 'USA', a.conferenceLocation('m', 'USA')?.modRevision ?? -1, undefined)).toBe(true);
    expect(a.instance('m')?.instanceId).toBe(id);
    expect(await a.casConferenceLocation('m', 'Canada', a.conferenceLocation('m', 'Canada')?.modRevision ?? -1, undefined)).toBe(true);
    expect(a.instance('m')).toBeUndefined();
    expect(a.conferences()).toEqual([]);
    await w.pass(0);
    expect((await w.backend.client().range(a.keys.conference('m'))).kvs).toEqual([]);
    expect(changes.filter((c) => c.kind === 'instance').map((c) => (c.kind === 'instance' ? c.instance?.instanceId : '')).at(-1)).toBeUndefined();
  });

  it('a lost CAS against a stale cache: the conference is re-read from the store, not only from the watch', async () => {
    const a = w.state();
    const b = w.state();
    await Promise.all([a.start(), b.start()]);
    const id = a.proposeInstanceId('m');
    await a.casConferenceLocation('m', 'USA', 0, locationRecord('m', 'USA', id, ['n1']));
    // b has not processed the watch yet (no flush) and decides from its stale cache.
    expect(await b.casConferenceLocation('m', 'USA', 0, locationRecord('m', 'USA', b.proposeInstanceId('m'), ['n2']))).toBe(false);
    expect(b.conferenceLocation('m', 'USA')?.record.mediaNodes).toEqual(['n1']);
  });
});

describe('ClusterState: the cache', () => {
  let w: World;
  beforeEach(() => (w = new World()));
  afterEach(() => w.close());

  it('start() reads what is there (events included) and watches from the next revision without a gap', async () => {
    const a = w.state();
    await a.register(nodeRecord('n1'));
    await a.casConferenceLocation('m', 'USA', 0, locationRecord('m', 'USA', 'i1', ['n1']));
    const b = w.state();
    const ups: string[] = [];
    b.events.on('node-up', (n) => ups.push(n.name));
    const started = b.start();
    // Written while b is starting: must still arrive.
    await a.casConferenceLocation('m', 'Canada', 0, locationRecord('m', 'Canada', 'i1', ['n1']));
    await started;
    await w.pass(0);
    expect(ups).toEqual(['n1']);
    expect(b.conferenceLocations('m').map((l) => l.record.location)).toEqual(['Canada', 'USA']);
    expect(b.instance('m')?.instanceId).toBe('i1');
  });

  it('bad values in the store are logged and ignored, never a crash; good ones around them still count', async () => {
    const logger = captureLogger();
    const raw = w.backend.client();
    const b = w.state({ logger });
    await b.start();
    const k = b.keys;
    await raw.txn({
      put: [
        { key: k.node('garbage'), value: '{not json' },
        { key: k.node('wrong-name'), value: JSON.stringify(nodeRecord('other')) },
        { key: k.node('neg'), value: JSON.stringify({ ...nodeRecord('neg'), load: -1 }) },
        { key: k.location('m', 'USA'), value: JSON.stringify(locationRecord('m', 'USA', 'i', ['a', 'b', 'c', 'd'])) },
        { key: k.instance('m'), value: JSON.stringify({ instanceId: '' }) },
        { key: `${k.prefix}something/else`, value: 'x' },
        { key: k.node('ok'), value: JSON.stringify(nodeRecord('ok')) },
      ],
    });
    await w.pass(0);
    expect(b.nodes().map((n) => n.name)).toEqual(['ok']);
    expect(b.conferenceLocation('m', 'USA')).toBeUndefined();
    expect(b.instance('m')).toBeUndefined();
    expect(logger.warnings.filter((m) => m.includes('invalid record'))).toHaveLength(5);
    // A valid record later replaces the bad one.
    const bad = await raw.get(k.location('m', 'USA'));
    await raw.txn({ compare: [{ key: k.location('m', 'USA'), modRevision: bad?.modRevision ?? -1 }], put: [{ key: k.location('m', 'USA'), value: JSON.stringify(locationRecord('m', 'USA', 'i', ['a'])) }] });
    await w.pass(0);
    expect(b.conferenceLocation('m', 'USA')?.record.mediaNodes).toEqual(['a']);
  });

  it('a watch that fell behind the compacted history reads the store again: the cache ends up right', async () => {
    const small = new MemoryStoreBackend({ clock: w.clock, historyLimit: 5 });
    const lagging = small.client();
    const writer = w.state({ client: small.client() });
    const b = w.state({ client: lagging });
    await b.start();
    const id = writer.proposeInstanceId('m');
    await writer.casConferenceLocation('m', 'USA', 0, locationRecord('m', 'USA', id, ['n1']));
    await w.pass(0);
    const changes: string[] = [];
    b.events.on('conference-changed', (c) => changes.push(`${c.kind}:${c.kind === 'location' ? c.location : ''}:${c.kind === 'location' ? String(c.record?.mediaNodes.length) : c.instance?.instanceId ?? '-'}`));
    lagging.setReachable(false);
    for (let i = 0; i < 8; i++) await writer.casConferenceLocation(`c${i}`, 'USA', 0, locationRecord(`c${i}`, 'USA', `x${i}`, ['n1']));
    await writer.casConferenceLocation('m', 'USA', writer.conferenceLocation('m', 'USA')?.modRevision ?? -1, undefined);
    lagging.setReachable(true);
    await w.pass(100);
    expect(b.conferences()).toEqual(writer.conferences());
    expect(b.conferenceLocation('m', 'USA')).toBeUndefined();
    expect(changes).toContain('location:USA:undefined');
  });

  it('keys under another prefix are invisible (versioned layout)', async () => {
    const v1 = w.state();
    const v2 = w.state({ prefix: '/confnode/v2/' });
    await Promise.all([v1.start(), v2.start()]);
    await v2.register(nodeRecord('n-v2'));
    await w.pass(0);
    expect(v1.nodes()).toEqual([]);
    expect(v2.nodes().map((n) => n.name)).toEqual(['n-v2']);
  });
});
