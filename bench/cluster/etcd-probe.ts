/**
 * Reads etcd from outside the nodes, the way an operator would: its Prometheus counters
 * (GET /metrics on the client URL) and, after the fact, the key changes of a revision range (a
 * watch from a past revision through the v3 JSON gateway). Neither writes to the store nor issues
 * a Txn or Range RPC, so it never counts in what it measures. Every call is bounded.
 */
import { z } from 'zod';
import { parseEtcdMetrics, type EtcdCounters, type WatchedChange } from './figures';

/** etcd's Prometheus text exposition. */
export async function etcdMetrics(endpoint: string): Promise<string> {
  const res = await fetch(`${endpoint}/metrics`, { signal: AbortSignal.timeout(3000) });
  if (res.status !== 200) throw new Error(`etcd /metrics -> ${res.status}`);
  return res.text();
}

export async function etcdCounters(endpoint: string): Promise<EtcdCounters> {
  return parseEtcdMetrics(await etcdMetrics(endpoint));
}

const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');

/** int64 fields come as strings from the gateway (and are left out when 0). */
const int64 = z.union([z.string(), z.number()]).optional().transform((v) => Number(v ?? 0));

const WatchMessageSchema = z.object({
  result: z
    .object({
      canceled: z.boolean().optional(),
      compact_revision: int64,
      events: z
        .array(
          z.object({
            type: z.enum(['PUT', 'DELETE']).optional(),
            kv: z.object({ key: z.string(), create_revision: int64, mod_revision: int64 }),
          }),
        )
        .optional(),
    })
    .optional(),
  error: z.unknown().optional(),
});

/** Feeds every complete JSON line of `buffer` to `onMessage`; returns the incomplete rest. */
function drainLines(buffer: string, onMessage: (m: z.infer<typeof WatchMessageSchema>) => void): string {
  let rest = buffer;
  for (let nl = rest.indexOf('\n'); nl >= 0; nl = rest.indexOf('\n')) {
    const line = rest.slice(0, nl).trim();
    rest = rest.slice(nl + 1);
    if (line === '') continue;
    const parsed = WatchMessageSchema.safeParse(JSON.parse(line));
    if (parsed.success) onMessage(parsed.data);
  }
  return rest;
}

/**
 * Every change under `prefix` with fromRevision <= mod_revision <= toRevision. Relies on etcd
 * keeping its history (no compaction during the run, the default of `etcd` without
 * --auto-compaction-retention). Resolves once a change past `toRevision` arrives (the nodes' load
 * writes bring one within a second) or `timeoutMs` passes.
 */
export async function watchedChanges(endpoint: string, prefix: string, fromRevision: number, toRevision: number, timeoutMs = 8000): Promise<WatchedChange[]> {
  const end = Buffer.from(prefix, 'utf8');
  end[end.length - 1] = (end[end.length - 1] ?? 0) + 1;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  const out: WatchedChange[] = [];
  let done = false;
  let failure: string | undefined;
  const onMessage = (m: z.infer<typeof WatchMessageSchema>): void => {
    if (m.error !== undefined) failure = `watch error ${JSON.stringify(m.error).slice(0, 200)}`;
    if (m.result?.canceled) failure = `watch canceled (compacted at ${m.result.compact_revision})`;
    for (const e of m.result?.events ?? []) {
      const change = { type: e.type ?? 'PUT', key: Buffer.from(e.kv.key, 'base64').toString('utf8'), modRevision: e.kv.mod_revision, createRevision: e.kv.create_revision };
      if (change.modRevision > toRevision) done = true;
      else out.push(change);
    }
  };
  try {
    const res = await fetch(`${endpoint}/v3/watch`, {
      method: 'POST',
      body: JSON.stringify({ create_request: { key: b64(prefix), range_end: b64(end), start_revision: fromRevision } }),
      signal: abort.signal,
    });
    if (res.status !== 200 || !res.body) throw new Error(`etcd watch -> ${res.status}`);
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of res.body) {
      buffer = drainLines(buffer + decoder.decode(chunk as Uint8Array, { stream: true }), onMessage);
      if (done || failure !== undefined) break;
    }
  } catch (e) {
    if (!done) failure ??= e instanceof Error ? e.message : String(e);
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
  if (!done && failure === undefined) failure = 'watch ended before the range was complete';
  if (failure !== undefined && !done) throw new Error(`changes ${fromRevision}..${toRevision}: ${failure}`);
  return out;
}
