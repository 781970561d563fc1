/**
 * The cluster store contract (DESIGN.md section 5): revisioned keys, one write path (a
 * transaction that compares mod-revisions), watches from a revision, leases. Implemented in
 * memory and on etcd; this module must never name etcd or any other backend's types.
 */
import type { ConfnodeError } from '../../common';

/** One key as stored. Revisions are the store's global write counter (etcd semantics). */
export interface KeyValue {
  readonly key: string;
  readonly value: string;
  /** Revision of the write that created the key (since it was last absent). */
  readonly createRevision: number;
  /** Revision of the last write to the key: what a transaction compares. */
  readonly modRevision: number;
  /** The lease the key lives under, if any: the key is deleted when the lease ends. */
  readonly lease?: string;
}

/** A consistent read: every key under a prefix as of one store revision. */
export interface RangeResult {
  readonly revision: number;
  readonly kvs: readonly KeyValue[];
}

export interface TxnCompare {
  readonly key: string;
  /** The key's mod-revision must equal this; 0 means the key must be absent. */
  readonly modRevision: number;
}

export interface TxnPut {
  readonly key: string;
  readonly value: string;
  readonly lease?: string;
}

export interface TxnRequest {
  readonly compare?: readonly TxnCompare[];
  readonly put?: readonly TxnPut[];
  /** Keys (not prefixes) to delete; deleting an absent key is not an error. */
  readonly delete?: readonly string[];
}

export interface TxnResult {
  /** False: some compare failed and nothing was written. */
  readonly succeeded: boolean;
  /** The store revision after the transaction (the new keys' mod-revision when it wrote). */
  readonly revision: number;
}

/** A change under a watched prefix. A delete carries value '' and the revision of the deletion. */
export interface WatchEvent {
  readonly type: 'put' | 'delete';
  readonly key: string;
  readonly value: string;
  readonly modRevision: number;
  readonly lease?: string;
}

export interface WatchOptions {
  /**
   * The store no longer holds the history the watch needs (compacted): the watch has ended and
   * the caller must read again (`range`) and watch from that revision + 1.
   */
  onCompacted?(compactRevision: number): void;
}

export interface WatchHandle {
  /** Stops the watch; no event is delivered after it returns. Idempotent. */
  close(): void;
}

export type LeaseState = 'alive' | 'lost' | 'revoked';

/**
 * A lease whose keepalive runs on its own. `lost` fires once when the store says the lease
 * expired, or when keepalives have failed for longer than the TTL: its keys are gone (or will be
 * by the time the store is reachable again) and a new lease is needed.
 */
export interface Lease {
  readonly id: string;
  readonly ttlSeconds: number;
  readonly state: LeaseState;
  on(event: 'lost', listener: (reason: ConfnodeError) => void): () => void;
  /** Ends the lease now; its keys are deleted. Never emits `lost`. Idempotent. */
  revoke(): Promise<void>;
}

/**
 * Every call rejects with ConfnodeError: 'unavailable' when the store cannot be reached in time
 * (a rejected `txn` may or may not have been applied: read again before deciding again),
 * 'closed' after close(), 'bad-request' for an invalid request (e.g. one key twice in a txn),
 * 'not-found' for a put under a lease that no longer exists.
 */
export interface ClusterStore {
  get(key: string): Promise<KeyValue | undefined>;
  range(prefix: string): Promise<RangeResult>;
  /** The only write path: all compares hold, then every put and delete at one new revision. */
  txn(request: TxnRequest): Promise<TxnResult>;
  /**
   * Events under `prefix` with revision >= `fromRevision`, in revision order, each once, across
   * reconnects. `range()` then `watch(prefix, range.revision + 1, ...)` misses nothing.
   */
  watch(prefix: string, fromRevision: number, listener: (event: WatchEvent) => void, options?: WatchOptions): WatchHandle;
  grantLease(ttlSeconds: number): Promise<Lease>;
  /** Stops watches and keepalives (leases are not revoked: they expire). Idempotent. */
  close(): Promise<void>;
}

/** Validates a TxnRequest the same way for every backend (etcd refuses these too). */
export function txnRequestProblem(request: TxnRequest): string | undefined {
  const written = new Set<string>();
  for (const key of [...(request.put ?? []).map((p) => p.key), ...(request.delete ?? [])]) {
    if (key === '') return 'empty key in txn';
    if (written.has(key)) return `key ${key} written twice in one txn`;
    written.add(key);
  }
  for (const c of request.compare ?? []) {
    if (!Number.isInteger(c.modRevision) || c.modRevision < 0) return `bad compare modRevision ${c.modRevision} for ${c.key}`;
  }
  return undefined;
}
