import { silentLogger } from '../../common';
import type { NodeRecord } from '../cluster';
import { PeerLiveness } from './peer-liveness';

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function record(name: string): NodeRecord {
  const ep = { address: '127.0.0.1', port: 1 };
  return { name, location: 'USA', sip: ep, http: ep, control: ep, capacity: 2, load: 0, state: 'active', version: 't' };
}

/** A liveness whose peers answer on their control link while `reachable` says so. */
function world(): { live: PeerLiveness; reachable: Set<string>; listed: Set<string>; gone: string[] } {
  const reachable = new Set<string>();
  const listed = new Set<string>();
  const gone: string[] = [];
  const live = new PeerLiveness({
    reach: (peer) => (reachable.has(peer) ? Promise.resolve() : Promise.reject(new Error(`${peer} refused`))),
    listed: (peer) => listed.has(peer),
    gone: (n) => gone.push(n.name),
    logger: silentLogger,
  });
  return { live, reachable, listed, gone };
}

describe('PeerLiveness: a lost lease is not a dead node', () => {
  it('kill -9: a peer whose record is gone and whose control link cannot be had is gone at once', async () => {
    const w = world();
    w.live.recordGone(record('B'));
    await flush();
    expect(w.gone).toEqual(['B']);
    expect(w.live.records()).toEqual([]);
  });

  it('etcd unreachable: a peer whose record is gone but who answers keeps its calls, and nothing is dropped when it registers again', async () => {
    const w = world();
    w.reachable.add('B');
    w.live.recordGone(record('B'));
    await flush();
    expect(w.gone).toEqual([]);
    expect(w.live.records().map((n) => n.name)).toEqual(['B']);
    expect(w.live.has('B')).toBe(true);
    w.listed.add('B');
    w.live.recordBack('B');
    expect(w.live.records()).toEqual([]);
    w.live.linkDown('B');
    await flush();
    expect(w.gone).toEqual([]);
  });

  it('a peer without a record is gone once its control link is down and it cannot be reached again', async () => {
    const w = world();
    w.reachable.add('B');
    w.live.recordGone(record('B'));
    await flush();
    w.reachable.delete('B');
    w.live.linkDown('B');
    await flush();
    expect(w.gone).toEqual(['B']);
    expect(w.live.has('B')).toBe(false);
  });

  it('a peer that registered again while it was being probed is not dropped', async () => {
    const w = world();
    w.live.recordGone(record('B'));
    w.listed.add('B');
    await flush();
    expect(w.gone).toEqual([]);
  });
});
