import { decidePlacement } from '../../src/node/placement';
import { bucketPercentile, classifyWrites, counterDelta, histogramBuckets, isBackgroundLabel, netPerOp, nodeOfPort, parseEtcdMetrics, summarizeMs, type StoreWindow, type WatchedChange } from './figures';
import { placementWorkload } from './placement-workload';
import { kindOf } from './setup-latency';

const P = '/confnode/v1/';

describe('cluster bench figures', () => {
  it('summarizeMs(): nearest-rank p50/p90/p99, max and mean rounded to 0.01 ms; empty gives zeros', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1.004);
    expect(summarizeMs(values)).toEqual({ samples: 100, p50Ms: 50, p90Ms: 90, p99Ms: 99, maxMs: 100, meanMs: 50.5 });
    expect(summarizeMs([])).toEqual({ samples: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, maxMs: 0, meanMs: 0 });
  });

  it('parseEtcdMetrics(): Txn and Range RPCs summed over status codes, proposals, revision, puts, deletes; other series ignored', () => {
    const text = [
      '# HELP grpc_server_handled_total Total number of RPCs completed on the server',
      'grpc_server_handled_total{grpc_code="OK",grpc_method="Txn",grpc_service="etcdserverpb.KV",grpc_type="unary"} 12',
      'grpc_server_handled_total{grpc_code="Unavailable",grpc_method="Txn",grpc_service="etcdserverpb.KV",grpc_type="unary"} 1',
      'grpc_server_handled_total{grpc_code="OK",grpc_method="Range",grpc_service="etcdserverpb.KV",grpc_type="unary"} 3',
      'grpc_server_handled_total{grpc_code="OK",grpc_method="LeaseGrant",grpc_service="etcdserverpb.Lease",grpc_type="unary"} 2',
      'etcd_server_proposals_committed_total 40',
      'etcd_debugging_mvcc_current_revision 30',
      'etcd_mvcc_put_total 25',
      'etcd_mvcc_delete_total 4',
      'etcd_mvcc_txn_total 2',
      'etcd_mvcc_put_total_bogus x',
    ].join('\n');
    expect(parseEtcdMetrics(text)).toEqual({ txnRpcs: 13, rangeRpcs: 3, proposalsCommitted: 40, revision: 30, puts: 25, deletes: 4, mvccTxns: 2 });
    expect(parseEtcdMetrics('')).toEqual({ txnRpcs: 0, rangeRpcs: 0, proposalsCommitted: 0, revision: 0, puts: 0, deletes: 0, mvccTxns: 0 });
  });

  it('classifyWrites(): one label per write transaction (its key changes), node-record writes are the background', () => {
    const changes: WatchedChange[] = [
      { type: 'PUT', key: `${P}nodes/A`, modRevision: 10, createRevision: 2 },
      { type: 'PUT', key: `${P}conferences/new-1/locations/site`, modRevision: 11, createRevision: 11 },
      { type: 'PUT', key: `${P}conferences/new-1/instance`, modRevision: 11, createRevision: 11 },
      { type: 'PUT', key: `${P}nodes/B`, modRevision: 12, createRevision: 3 },
      { type: 'PUT', key: `${P}conferences/ex-1/locations/site`, modRevision: 13, createRevision: 5 },
      { type: 'DELETE', key: `${P}conferences/new-1/locations/site`, modRevision: 14, createRevision: 0 },
      { type: 'DELETE', key: `${P}conferences/new-1/instance`, modRevision: 14, createRevision: 0 },
    ];
    const writes = classifyWrites(changes, P);
    expect(writes).toEqual({
      'update node record': 2,
      'create instance + create location': 1,
      'update location': 1,
      'delete instance + delete location': 1,
    });
    expect(Object.keys(writes).filter(isBackgroundLabel)).toEqual(['update node record']);
  });

  it('netPerOp(): Txn RPCs net of the baseline rate over the window, conference writes exact, lost CAS = Txns that wrote nothing', () => {
    const delta = (txnRpcs: number, revision: number, rangeRpcs = 0) => ({ ...counterDelta(parseEtcdMetrics(''), parseEtcdMetrics('')), txnRpcs, revision, rangeRpcs, proposalsCommitted: txnRpcs });
    const baseline: StoreWindow = { name: 'baseline', ops: 0, durationS: 10, delta: delta(80, 80), writes: { 'update node record': 80 } };
    const joins: StoreWindow = { name: 'first join', ops: 20, durationS: 10, delta: delta(102, 100, 2), writes: { 'update node record': 80, 'create instance + create location': 20 } };
    expect(netPerOp(joins, baseline)).toEqual({ txnRpcs: 1.1, rangeRpcs: 0.1, proposals: 1.1, conferenceWrites: 1, failedTxns: 0.1 });
    expect(netPerOp(baseline, baseline)).toBeUndefined();
  });

  it('bucketPercentile(): the upper bound of the bucket holding the percentile of what was counted between two readings', () => {
    const reading = (counts: number[]): string =>
      ['0.001', '0.002', '0.004', '+Inf'].map((le, i) => `etcd_disk_wal_fsync_duration_seconds_bucket{le="${le}"} ${counts[i] ?? 0}`).join('\n');
    const before = histogramBuckets(reading([10, 10, 10, 10]), 'etcd_disk_wal_fsync_duration_seconds');
    const after = histogramBuckets(reading([60, 99, 109, 110]), 'etcd_disk_wal_fsync_duration_seconds');
    expect(after[3]).toEqual([Number.POSITIVE_INFINITY, 110]);
    expect([bucketPercentile(before, after, 50), bucketPercentile(before, after, 90), bucketPercentile(before, after, 99)]).toEqual([0.001, 0.004, 0.004]);
    expect(bucketPercentile(after, after, 50)).toBeUndefined();
  });

  it('nodeOfPort(): the node whose RTP range holds the 200 OK audio port', () => {
    const ranges = { A: { min: 20000, max: 20399 }, B: { min: 30000, max: 30399 } };
    expect([nodeOfPort(30010, ranges), nodeOfPort(20399, ranges), nodeOfPort(25000, ranges)]).toEqual(['B', 'A', undefined]);
  });

  it('kindOf(): local, remote, remote, local: each kind goes first in half of the pairs', () => {
    expect(Array.from({ length: 8 }, (_, i) => kindOf(i))).toEqual(['local', 'remote', 'remote', 'local', 'local', 'remote', 'remote', 'local']);
  });
});

describe('placement bench workload', () => {
  it('is the same for the same seed, 3-10 nodes per location, at most 3 media nodes in the caller location', () => {
    const a = placementWorkload(7, 200);
    expect(placementWorkload(7, 200)).toEqual(a);
    for (const c of a) {
      const perLocation = new Map<string, number>();
      for (const n of c.snapshot.nodes) perLocation.set(n.location, (perLocation.get(n.location) ?? 0) + 1);
      for (const count of perLocation.values()) expect(count).toBeGreaterThanOrEqual(3);
      for (const count of perLocation.values()) expect(count).toBeLessThanOrEqual(10);
      expect(c.snapshot.mediaNodes.length).toBeLessThanOrEqual(3);
    }
  });

  it('R2-R5 mix: the pool exercises least-loaded, affinity, expansion and rejected-full decisions', () => {
    const seen = new Set(placementWorkload(10, 2000).map((c) => decidePlacement(c.request, c.snapshot).reason));
    expect([...seen].sort()).toEqual(['affinity', 'expansion', 'least-loaded', 'rejected-full']);
  });
});
