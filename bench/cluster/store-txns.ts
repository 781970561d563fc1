/**
 * Store transactions per join, read from etcd itself: equal windows of (1) nothing but the nodes'
 * background writes, (2) joins into running conferences, (3) those callers leaving, (4) first
 * joins of new conferences, (5) their last callers leaving. Per window: etcd's counters before and
 * after, and afterwards the window's key changes (a watch of its revisions), so each write is
 * named. Calls of windows 2 and 4 stay up until the next window; anchors of the running
 * conferences are placed and hung up outside the windows. Figures only.
 */
import { etcdRange } from '../../test/helpers/cluster';
import { sleep, waitFor } from '../../test/helpers/proc';
import type { CallKind, ClusterCallers, HeldCall } from './calls';
import type { BenchCluster } from './cluster-procs';
import { etcdCounters, watchedChanges } from './etcd-probe';
import { classifyWrites, counterDelta, netPerOp, type EtcdCounters, type NetPerOp, type StoreWindow } from './figures';
import { kindOf } from './setup-latency';

export const STORE_PREFIX = '/confnode/v1/';

export interface StorePlan {
  windowMs: number;
  /** Running conferences (one anchor call each, media on B) the joins of window 2 go into. */
  rooms: number;
  /** Joins (window 2 and 4) and leaves (3 and 5) per window. */
  ops: number;
  /** Time to settle between windows (calls set up or ended, load written). */
  settleMs: number;
}

export interface StoreWindowResult extends StoreWindow {
  fromRevision: number;
  toRevision: number;
  net?: NetPerOp;
  failedOps: number;
}

export interface StoreResult {
  plan: StorePlan;
  windows: StoreWindowResult[];
  errors: string[];
}

interface Measured {
  name: string;
  ops: number;
  failedOps: number;
  before: EtcdCounters;
  after: EtcdCounters;
  durationS: number;
}

/** Runs `work` (spread over ~60% of the window) inside one window of etcd counters. */
async function window(endpoint: string, name: string, windowMs: number, ops: number, work: () => Promise<number>): Promise<Measured> {
  const before = await etcdCounters(endpoint);
  const t0 = Date.now();
  const failedOps = await work();
  const rest = t0 + windowMs - Date.now();
  if (rest > 0) await sleep(rest);
  const after = await etcdCounters(endpoint);
  // Per-operation figures count the operations that happened: a failed call wrote nothing of its own.
  return { name, ops: ops - failedOps, failedOps, before, after, durationS: (Date.now() - t0) / 1000 };
}

/** `count` operations started evenly over `spanMs`; resolves with how many failed. */
async function paced(count: number, spanMs: number, op: (i: number) => Promise<boolean>): Promise<number> {
  const start = Date.now();
  const running: Array<Promise<boolean>> = [];
  for (let i = 0; i < count; i++) {
    const wait = start + (i * spanMs) / Math.max(1, count) - Date.now();
    if (wait > 0) await sleep(wait);
    running.push(op(i));
  }
  return (await Promise.all(running)).filter((ok) => !ok).length;
}

async function hangUpAll(callers: ClusterCallers, calls: HeldCall[]): Promise<void> {
  await Promise.all(calls.map((c) => callers.hangUp(c)));
}

export async function runStoreTxns(o: { plan: StorePlan; cluster: BenchCluster; callers: ClusterCallers; log: (line: string) => void }): Promise<StoreResult> {
  const { plan, callers } = o;
  const endpoint = o.cluster.etcd.endpoint;
  const span = plan.windowMs * 0.6;
  const measured: Measured[] = [];
  const errors: string[] = [];
  const anchors: HeldCall[] = [];
  const joins: HeldCall[] = [];
  const firsts: HeldCall[] = [];
  const join = (into: HeldCall[], kind: CallKind, vmr: string) => async (): Promise<boolean> => {
    const held = await callers.place(kind, vmr);
    into.push(held);
    if (held.record.error !== undefined) errors.push(`${vmr}: ${held.record.error}`);
    return held.call !== undefined;
  };
  const leave = (calls: HeldCall[]) => async (i: number): Promise<boolean> => {
    const c = calls[i];
    if (c) await callers.hangUp(c);
    return c?.call !== undefined;
  };
  try {
    // Conferences of earlier calls leave the store a moment after their last BYE: not in the baseline.
    await waitFor('no conference left in the store', async () => ((await etcdRange(endpoint, `${STORE_PREFIX}conferences/`)).length === 0 ? true : undefined), 15_000, 200);
    await sleep(plan.settleMs);
    o.log(`cluster: store windows of ${plan.windowMs / 1000} s: baseline, ${plan.ops} joins into ${plan.rooms} running conferences, their leaves, ${plan.ops} new conferences, their last leaves`);
    measured.push(await window(endpoint, 'baseline (no calls)', plan.windowMs, 0, () => Promise.resolve(0)));
    await paced(plan.rooms, 1000, async (i) => {
      const held = await callers.anchor(`ex-${i}`);
      anchors.push(held);
      return held.call !== undefined;
    });
    await sleep(plan.settleMs);
    measured.push(await window(endpoint, 'join a running conference', plan.windowMs, plan.ops, () => paced(plan.ops, span, (i) => join(joins, kindOf(i), `ex-${i % plan.rooms}`)())));
    measured.push(await window(endpoint, 'leave (others stay)', plan.windowMs, plan.ops, () => paced(plan.ops, span, leave(joins))));
    measured.push(await window(endpoint, 'first join (new conference)', plan.windowMs, plan.ops, () => paced(plan.ops, span, (i) => join(firsts, kindOf(i), `new-${i}`)())));
    measured.push(await window(endpoint, 'last leave (conference ends)', plan.windowMs, plan.ops, () => paced(plan.ops, span, leave(firsts))));
  } finally {
    await hangUpAll(callers, [...anchors, ...joins, ...firsts]);
  }
  const windows = await attribute(endpoint, measured);
  const base = windows[0];
  for (const w of windows) if (base && w !== base) w.net = netPerOp(w, base);
  return { plan, windows, errors: [...new Set(errors)].slice(0, 5) };
}

/** Names each window's writes from one watch over all of them. */
async function attribute(endpoint: string, measured: Measured[]): Promise<StoreWindowResult[]> {
  const first = measured[0];
  const last = measured[measured.length - 1];
  const changes = first && last ? await watchedChanges(endpoint, STORE_PREFIX, first.before.revision + 1, last.after.revision) : [];
  return measured.map((m) => {
    const mine = changes.filter((c) => c.modRevision > m.before.revision && c.modRevision <= m.after.revision);
    return {
      name: m.name,
      ops: m.ops,
      failedOps: m.failedOps,
      durationS: Math.round(m.durationS * 100) / 100,
      delta: counterDelta(m.before, m.after),
      writes: classifyWrites(mine, STORE_PREFIX),
      fromRevision: m.before.revision + 1,
      toRevision: m.after.revision,
    };
  });
}
