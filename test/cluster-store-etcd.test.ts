/**
 * The ClusterStore contract against a real etcd (started here on free 127.0.0.1 ports with a temp
 * data dir, ended by PID), then what only a real store shows: etcd hung (SIGSTOP) or killed and
 * restarted on its data dir, and one client cut off by a TCP proxy while others write.
 */
import * as net from 'node:net';
import { Etcd3 } from 'etcd3';
import { ConfnodeError, systemClock } from '../src/common';
import { ClusterState, EtcdClusterStore, type ClusterStore, type NodeRecord, type WatchEvent } from '../src/node/cluster';
import { describeClusterStoreContract, freshPrefix, rejectionCode, type StoreHarness } from './helpers/cluster-store-contract';
import { EtcdServer } from './helpers/etcd';
import { freePort } from './helpers/ports';
import { killAll, sleep, waitFor } from './helpers/proc';

jest.setTimeout(60_000);

const CALL_TIMEOUT_MS = 1000;
const LEASE_TTL_S = 2;

let etcd: EtcdServer | undefined;
let admin: Etcd3 | undefined;
const stores: ClusterStore[] = [];

function server(): EtcdServer {
  if (!etcd) throw new Error('etcd did not start');
  return etcd;
}

function newStore(endpoint = server().endpoint): EtcdClusterStore {
  const s = new EtcdClusterStore({ endpoints: [endpoint], callTimeoutMs: CALL_TIMEOUT_MS, watchRetryInitialMs: 100, watchRetryMaxMs: 500 });
  stores.push(s);
  return s;
}

beforeAll(async () => {
  etcd = await EtcdServer.start();
  admin = new Etcd3({ hosts: etcd.endpoint });
});

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  admin?.close();
  await etcd?.destroy();
  await killAll();
});

const harness: StoreHarness = {
  client: () => newStore(),
  pass: (ms) => sleep(ms),
  // etcd's own expiry path: a revoke by another client makes the holder's next keepalive see TTL 0.
  expireLease: async (id) => {
    await admin?.leaseClient.leaseRevoke({ ID: id });
  },
  leaseTtlSeconds: LEASE_TTL_S,
};

describe('EtcdClusterStore: the ClusterStore contract (real etcd)', () => {
  describeClusterStoreContract(() => harness);
});

/** A TCP relay to etcd that the test can cut (every connection dropped, new ones refused) and restore. */
class CuttableProxy {
  private srv: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private constructor(
    readonly port: number,
    private readonly target: number,
  ) {}

  static async start(target: number): Promise<CuttableProxy> {
    const p = new CuttableProxy(await freePort(), target);
    await p.restore();
    return p;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async restore(): Promise<void> {
    const srv = net.createServer((inbound) => {
      const outbound = net.connect(this.target, '127.0.0.1');
      for (const s of [inbound, outbound]) {
        this.sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => {
          this.sockets.delete(s);
          inbound.destroy();
          outbound.destroy();
        });
      }
      inbound.pipe(outbound);
      outbound.pipe(inbound);
    });
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.srv = srv;
  }

  async cut(): Promise<void> {
    const srv = this.srv;
    this.srv = undefined;
    for (const s of this.sockets) s.destroy();
    if (srv) await new Promise<void>((resolve) => srv.close(() => resolve()));
  }
}

describe('EtcdClusterStore: etcd unreachable', () => {
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown): void => {
    uncaught.push(e);
  };
  beforeAll(() => process.on('uncaughtException', onUncaught));
  afterAll(() => process.off('uncaughtException', onUncaught));

  it('etcd hung (SIGSTOP): calls reject unavailable within their timeout, the lease is lost, nothing crashes; SIGCONT: it works again', async () => {
    const s = newStore();
    const key = `${freshPrefix()}k`;
    await s.txn({ put: [{ key, value: 'before' }] });
    const lease = await s.grantLease(LEASE_TTL_S);
    const lost: ConfnodeError[] = [];
    lease.on('lost', (e) => lost.push(e));
    server().pause();
    try {
      for (const call of [() => s.get(key), () => s.txn({ put: [{ key, value: 'during' }] }), () => s.grantLease(LEASE_TTL_S)]) {
        const t0 = Date.now();
        expect(await rejectionCode(call())).toBe('unavailable');
        // Bounded by the call's own timeout (plus scheduling slack on a busy machine), never a hang.
        expect(Date.now() - t0).toBeLessThan(CALL_TIMEOUT_MS + 2000);
      }
      await waitFor('lease lost', () => (lost.length > 0 ? true : undefined), LEASE_TTL_S * 1000 + 3000);
      expect(lost[0]?.code).toBe('unavailable');
      expect(lease.state).toBe('lost');
    } finally {
      server().resume();
    }
    await waitFor('etcd answering again', async () => (await s.get(key).catch(() => undefined))?.value, 15_000);
    expect((await s.get(key))?.value).toBe('before');
    expect(uncaught).toEqual([]);
  });

  it('etcd killed and restarted on its data dir: calls reject unavailable, then the data is there and the watch resumes', async () => {
    const s = newStore();
    const writer = newStore();
    const p = freshPrefix();
    const first = await writer.txn({ put: [{ key: `${p}a`, value: '1' }] });
    const events: WatchEvent[] = [];
    const w = s.watch(p, first.revision, (e) => events.push(e));
    await waitFor('the first event', () => (events.length === 1 ? true : undefined), 10_000);
    await server().kill();
    expect(await rejectionCode(s.get(`${p}a`))).toBe('unavailable');
    expect(await rejectionCode(writer.txn({ put: [{ key: `${p}b`, value: '2' }] }))).toBe('unavailable');
    await sleep(500);
    await server().restart();
    await waitFor('writes accepted again', async () => (await writer.txn({ put: [{ key: `${p}b`, value: '2' }] }).catch(() => undefined))?.succeeded, 15_000);
    expect((await s.get(`${p}a`))?.value).toBe('1');
    await waitFor('the watch to resume', () => (events.length >= 2 ? true : undefined), 15_000);
    await sleep(300);
    w.close();
    expect(events.map((e) => [e.type, e.key.slice(p.length), e.value])).toEqual([
      ['put', 'a', '1'],
      ['put', 'b', '2'],
    ]);
    // A new lease after the restart works.
    const lease = await s.grantLease(LEASE_TTL_S);
    await s.txn({ put: [{ key: `${p}n`, value: 'up', lease: lease.id }] });
    await lease.revoke();
    expect(await s.get(`${p}n`)).toBeUndefined();
    expect(uncaught).toEqual([]);
  });

  it('one client cut off while others write: its watch resumes from the last revision it saw (none lost, none twice), its lease is lost and its key expires', async () => {
    const proxy = await CuttableProxy.start(server().clientPort);
    try {
      const cutClient = newStore(proxy.endpoint);
      const writer = newStore();
      const p = freshPrefix();
      const lease = await cutClient.grantLease(LEASE_TTL_S);
      const lost: string[] = [];
      lease.on('lost', (e) => lost.push(e.code));
      const reg = await cutClient.txn({ put: [{ key: `${p}node`, value: 'up', lease: lease.id }] });
      const events: WatchEvent[] = [];
      const w = cutClient.watch(`${p}w/`, reg.revision + 1, (e) => events.push(e));
      await writer.txn({ put: [{ key: `${p}w/0`, value: 'before-cut' }] });
      await waitFor('the event before the cut', () => (events.length === 1 ? true : undefined), 10_000);
      await proxy.cut();
      const during: number[] = [];
      for (let i = 1; i <= 5; i++) during.push((await writer.txn({ put: [{ key: `${p}w/${i}`, value: `during-${i}` }] })).revision);
      await waitFor('lease lost', () => (lost.length > 0 ? true : undefined), LEASE_TTL_S * 1000 + 3000);
      await waitFor('the node key to expire in etcd', async () => ((await writer.get(`${p}node`)) === undefined ? true : undefined), LEASE_TTL_S * 1000 + 3000);
      expect(events).toHaveLength(1);
      await proxy.restore();
      const after = await writer.txn({ put: [{ key: `${p}w/6`, value: 'after' }] });
      await waitFor('all 7 events', () => (events.length >= 7 ? true : undefined), 15_000);
      await sleep(300);
      w.close();
      expect(events.map((e) => e.value)).toEqual(['before-cut', 'during-1', 'during-2', 'during-3', 'during-4', 'during-5', 'after']);
      expect(events.slice(1).map((e) => e.modRevision)).toEqual([...during, after.revision]);
      expect(lost).toEqual(['unavailable']);
    } finally {
      await proxy.cut();
    }
    expect(uncaught).toEqual([]);
  });
});

describe('ClusterState on etcd', () => {
  const states: ClusterState[] = [];
  afterEach(() => {
    for (const st of states.splice(0)) st.close();
  });
  function clusterState(store: ClusterStore, prefix: string): ClusterState {
    const st = new ClusterState({ store, clock: systemClock, prefix, leaseTtlSeconds: LEASE_TTL_S });
    states.push(st);
    return st;
  }
  const record = (name: string): NodeRecord => ({
    name,
    location: 'USA',
    sip: { address: '127.0.0.1', port: 5060 },
    http: { address: '127.0.0.1', port: 8080 },
    control: { address: '127.0.0.1', port: 9000 },
    capacity: 2,
    load: 0,
    state: 'active',
    version: 'test',
  });

  it('R5: 50 trials of four nodes joining one conference location at once through separate etcd clients: never more than 3 media nodes', async () => {
    const prefix = freshPrefix();
    const racers = ['USConf01', 'USConf02', 'USConf03', 'USConf04'].map((name) => ({ name, st: clusterState(newStore(), prefix) }));
    await Promise.all(racers.map((r) => r.st.start()));
    /** What a signaling node does: read the cache, add itself if there is room, CAS; on a lost race decide again. */
    const join = async (st: ClusterState, vmr: string, me: string): Promise<number> => {
      let attempts = 0;
      for (;;) {
        attempts++;
        const cur = st.conferenceLocation(vmr, 'USA');
        const list = cur?.record.mediaNodes ?? [];
        if (list.includes(me) || list.length >= 3) return attempts;
        const next = { conference: vmr, location: 'USA', instanceId: cur?.record.instanceId ?? st.proposeInstanceId(vmr), mediaNodes: [...list, me] };
        if (await st.casConferenceLocation(vmr, 'USA', cur?.modRevision ?? 0, next)) return attempts;
        if (attempts > 20) throw new Error(`${me} could not settle ${vmr}`);
      }
    };
    for (let trial = 0; trial < 50; trial++) {
      const vmr = `race${trial}`;
      await Promise.all(racers.map((r) => join(r.st, vmr, r.name)));
      const stored = await racers[0]?.st.refreshConference(vmr).then(() => racers[0]?.st.conferenceLocation(vmr, 'USA'));
      expect(stored?.record.mediaNodes.length).toBe(3);
      expect(new Set(stored?.record.mediaNodes).size).toBe(3);
    }
  });

  it("a node whose process dies (no deregister): its lease expires and it leaves the other node's cache (node-down)", async () => {
    const prefix = freshPrefix();
    const deadStore = newStore();
    const dead = clusterState(deadStore, prefix);
    const survivor = clusterState(newStore(), prefix);
    await survivor.start();
    await dead.register(record('USConf03'));
    await waitFor('node-up', () => (survivor.node('USConf03') ? true : undefined), 10_000);
    const downs: string[] = [];
    survivor.events.on('node-down', (n) => downs.push(n.name));
    dead.close();
    await deadStore.close();
    await waitFor('node-down', () => (downs.length > 0 ? true : undefined), LEASE_TTL_S * 1000 + 5000);
    expect(downs).toEqual(['USConf03']);
    expect(survivor.nodes()).toEqual([]);
  });
});
