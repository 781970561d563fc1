/**
 * The cluster as this node sees it (DESIGN.md section 5), on any ClusterStore: a watched local
 * cache of live nodes and of conference records, this node's registration, and the one write path
 * for a conference's location record (a CAS that also keeps the cluster-wide instance id).
 * Never trusts a stored value before zod has checked it, and never crashes on a bad one.
 */
import { randomUUID } from 'node:crypto';
import { ConfnodeError, TypedEmitter, errorMessage, silentLogger, type Clock, type Logger, type TimerHandle } from '../../common';
import {
  ClusterKeys,
  ConferenceInstanceRecordSchema,
  ConferenceLocationRecordSchema,
  DEFAULT_CLUSTER_PREFIX,
  NodeRecordSchema,
  isKeySegment,
  parseRecord,
  type ClusterKey,
  type ConferenceInstanceRecord,
  type ConferenceLocationRecord,
  type NodeRecord,
  type NodeState,
} from './cluster-records';
import { NodeRegistration } from './node-registration';
import type { ClusterStore, TxnCompare, TxnPut, WatchHandle } from './store';

export interface ClusterStateOptions {
  store: ClusterStore;
  /** Timers: rate limit of node updates, re-registration and re-sync backoff. */
  clock: Clock;
  /** Versioned key prefix, ending in '/'. Default '/confnode/v1/'. */
  prefix?: string;
  logger?: Logger;
  /**
   * TTL of this node's lease: how long a dead node stays listed (plus etcd's ~0.5 s expiry sweep).
   * Default 3 s, so survivors drop a killed node within 5 s (issue 10's acceptance).
   */
  leaseTtlSeconds?: number;
  /** At most one load/state write per interval. Default 250 ms. */
  minUpdateIntervalMs?: number;
  /** Wall clock for `startedAt` (epoch ms). Default Date.now. */
  wallClock?: () => number;
  /** A new conference instance id. Default crypto.randomUUID. */
  newInstanceId?: () => string;
}

export interface Revisioned<T> {
  readonly record: T;
  /** What a CAS on this record compares. */
  readonly modRevision: number;
}

export type ConferenceChange =
  | { kind: 'location'; conference: string; location: string; record: ConferenceLocationRecord | undefined; modRevision: number }
  | { kind: 'instance'; conference: string; instance: ConferenceInstanceRecord | undefined; modRevision: number };

export type ClusterStateEvents = {
  'node-up': [node: NodeRecord];
  /** The node's record is gone (lease expired, deregistered): `node` is its last record. */
  'node-down': [node: NodeRecord];
  'node-updated': [node: NodeRecord, previous: NodeRecord];
  'conference-changed': [change: ConferenceChange];
  /** This node's own lease was lost; it registers again on its own. */
  'registration-lost': [reason: ConfnodeError];
  registered: [node: NodeRecord];
};

const RESYNC_RETRY_MS = 500;
const RESYNC_RETRY_MAX_MS = 5000;

export class ClusterState {
  readonly events: TypedEmitter<ClusterStateEvents>;
  readonly keys: ClusterKeys;
  private readonly store: ClusterStore;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly wallClock: () => number;
  private readonly newInstanceId: () => string;
  private readonly registration: NodeRegistration;
  private readonly nodeCache = new Map<string, Revisioned<NodeRecord>>();
  private readonly locationCache = new Map<string, Map<string, Revisioned<ConferenceLocationRecord>>>();
  private readonly instanceCache = new Map<string, Revisioned<ConferenceInstanceRecord>>();
  /** Deleted (or invalid) keys and the revision at which they went: older events are stale. */
  private readonly tombstones = new Map<string, number>();
  private watch: WatchHandle | undefined;
  private started = false;
  private closed = false;
  private resyncTimer: TimerHandle | undefined;

  constructor(options: ClusterStateOptions) {
    const prefix = options.prefix ?? DEFAULT_CLUSTER_PREFIX;
    if (!prefix.startsWith('/') || !prefix.endsWith('/')) throw new ConfnodeError('config', `cluster prefix must start and end with '/' (got ${prefix})`);
    this.store = options.store;
    this.clock = options.clock;
    this.logger = options.logger ?? silentLogger;
    this.wallClock = options.wallClock ?? Date.now;
    this.newInstanceId = options.newInstanceId ?? randomUUID;
    this.keys = new ClusterKeys(prefix);
    this.events = new TypedEmitter((err, event) => this.logger.error({ err: errorMessage(err), event }, 'cluster state listener threw'));
    const ttl = options.leaseTtlSeconds ?? 3;
    this.registration = new NodeRegistration({
      store: this.store,
      keys: this.keys,
      clock: this.clock,
      logger: this.logger,
      leaseTtlSeconds: ttl,
      minUpdateIntervalMs: options.minUpdateIntervalMs ?? 250,
      retryInitialMs: 250,
      retryMaxMs: Math.max(1000, (ttl * 1000) / 2),
    });
    this.registration.events.on('registration-lost', (reason) => this.events.emit('registration-lost', reason));
    this.registration.events.on('registered', (record) => this.events.emit('registered', record));
  }

  // --- the cache ------------------------------------------------------------------------------

  /** Reads everything under the prefix, then watches from the next revision (no gap). */
  async start(): Promise<void> {
    if (this.started) return;
    if (this.closed) throw new ConfnodeError('closed', 'cluster state is closed');
    this.started = true;
    try {
      await this.sync();
    } catch (err) {
      this.started = false;
      throw err;
    }
  }

  /** Live nodes (their records are in the store), sorted by name. */
  nodes(): NodeRecord[] {
    return [...this.nodeCache.values()].map((n) => n.record).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  node(name: string): NodeRecord | undefined {
    return this.nodeCache.get(name)?.record;
  }

  conferenceLocation(vmr: string, location: string): Revisioned<ConferenceLocationRecord> | undefined {
    return this.locationCache.get(vmr)?.get(location);
  }

  /** Every location record of one conference, sorted by location. */
  conferenceLocations(vmr: string): Array<Revisioned<ConferenceLocationRecord>> {
    const byLocation = this.locationCache.get(vmr);
    if (!byLocation) return [];
    return [...byLocation.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
  }

  /** Conferences with a location record or an instance record, sorted. */
  conferences(): string[] {
    return [...new Set([...this.locationCache.keys(), ...this.instanceCache.keys()])].sort();
  }

  instance(vmr: string): ConferenceInstanceRecord | undefined {
    return this.instanceCache.get(vmr)?.record;
  }

  /** The instance id a new location record must carry: the running one, or a fresh proposal. */
  proposeInstanceId(vmr: string): string {
    return this.instance(vmr)?.instanceId ?? this.newInstanceId();
  }

  /** Re-reads one conference from the store (not the watch): what a lost CAS race does. */
  async refreshConference(vmr: string): Promise<void> {
    checkSegment('conference', vmr);
    const prefix = this.keys.conference(vmr);
    const r = await this.store.range(prefix);
    const seen = new Set<string>();
    for (const kv of r.kvs) {
      seen.add(kv.key);
      this.applyPut(kv.key, kv.value, kv.modRevision);
    }
    const cached = [...(this.locationCache.get(vmr)?.keys() ?? [])].map((l) => this.keys.location(vmr, l));
    if (this.instanceCache.has(vmr)) cached.push(this.keys.instance(vmr));
    for (const key of cached) if (!seen.has(key)) this.applyDelete(key, r.revision);
  }

  // --- conference writes ----------------------------------------------------------------------

  /**
   * The only write of a conference's location record: succeeds if the record's mod-revision is
   * still `expectedModRevision` (0: absent). `next` undefined deletes it. One transaction per call:
   * creating or deleting a location record also creates, touches or (for the last location)
   * deletes `conferences/<vmr>/instance` in the same transaction, so concurrent first joins agree
   * on one instance id and concurrent last leaves cannot leave it behind. On a lost race the
   * conference is re-read from the store before this resolves false: decide again from the cache.
   */
  async casConferenceLocation(vmr: string, location: string, expectedModRevision: number, next: ConferenceLocationRecord | undefined): Promise<boolean> {
    checkSegment('conference', vmr);
    checkSegment('location', location);
    if (!Number.isInteger(expectedModRevision) || expectedModRevision < 0) throw new ConfnodeError('bad-request', `bad expected revision ${expectedModRevision}`);
    const record = next === undefined ? undefined : validLocationRecord(vmr, location, next);
    const locationKey = this.keys.location(vmr, location);
    const instanceKey = this.keys.instance(vmr);
    const compare: TxnCompare[] = [{ key: locationKey, modRevision: expectedModRevision }];
    const put: TxnPut[] = record ? [{ key: locationKey, value: JSON.stringify(record) }] : [];
    const del: string[] = !record && expectedModRevision !== 0 ? [locationKey] : [];
    const inst = this.instanceCache.get(vmr);
    if (record && expectedModRevision === 0) {
      if (inst && inst.record.instanceId !== record.instanceId) {
        throw new ConfnodeError('bad-request', `conference ${vmr} runs as instance ${inst.record.instanceId}, not ${record.instanceId}`);
      }
      compare.push({ key: instanceKey, modRevision: inst?.modRevision ?? 0 });
      put.push({ key: instanceKey, value: JSON.stringify(inst?.record ?? { instanceId: record.instanceId, startedAt: this.wallClock() }) });
    } else if (!record && expectedModRevision !== 0) {
      compare.push({ key: instanceKey, modRevision: inst?.modRevision ?? 0 });
      const others = [...(this.locationCache.get(vmr)?.keys() ?? [])].filter((l) => l !== location);
      if (inst && others.length === 0) del.push(instanceKey);
      else if (inst) put.push({ key: instanceKey, value: JSON.stringify(inst.record) });
    }
    const res = await this.store.txn({ compare, put, delete: del });
    if (res.succeeded) {
      // Read-your-writes: the cache has the outcome before the watch brings it back.
      for (const p of put) this.applyPut(p.key, p.value, res.revision);
      for (const key of del) this.applyDelete(key, res.revision);
      return true;
    }
    await this.refreshConference(vmr).catch((err: unknown) => this.logger.warn({ conference: vmr, err: errorMessage(err) }, 'conference re-read after a lost CAS failed'));
    return false;
  }

  // --- this node's registration ---------------------------------------------------------------

  /** Grants this node's lease and writes its record; re-registers on its own if the lease is lost. */
  register(record: NodeRecord): Promise<void> {
    return this.registration.register(record);
  }

  /** Rate-limited (see minUpdateIntervalMs); the latest value wins. */
  updateLoad(load: number): void {
    this.registration.updateLoad(load);
  }

  /** Rate-limited like updateLoad; `flush()` to have it written now. */
  setState(state: NodeState): void {
    this.registration.setState(state);
  }

  flush(): Promise<void> {
    return this.registration.flush();
  }

  /** Revokes the lease: the record goes at once. Store faults are logged (the TTL then ends it). */
  deregister(): Promise<void> {
    return this.registration.deregister();
  }

  /** This node's record as last set here (registered or not). */
  get self(): NodeRecord | undefined {
    return this.registration.current;
  }

  get registered(): boolean {
    return this.registration.registered;
  }

  /** Stops the watch and all timers. Neither deregisters nor closes the store (its owner does). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.watch?.close();
    this.watch = undefined;
    this.resyncTimer?.cancel();
    this.registration.stop();
  }

  // --- internals ------------------------------------------------------------------------------

  private async sync(): Promise<void> {
    const r = await this.store.range(this.keys.prefix);
    if (this.closed) return;
    const seen = new Set<string>();
    for (const kv of r.kvs) {
      seen.add(kv.key);
      this.applyPut(kv.key, kv.value, kv.modRevision);
    }
    for (const key of this.cachedKeys()) if (!seen.has(key)) this.applyDelete(key, r.revision);
    this.watch?.close();
    this.watch = this.store.watch(
      this.keys.prefix,
      r.revision + 1,
      (ev) => {
        if (ev.type === 'put') this.applyPut(ev.key, ev.value, ev.modRevision);
        else this.applyDelete(ev.key, ev.modRevision);
        for (const [key, rev] of this.tombstones) if (rev <= ev.modRevision) this.tombstones.delete(key);
      },
      { onCompacted: () => this.resync(RESYNC_RETRY_MS) },
    );
  }

  /** The watch lost its history: read everything again (with backoff while the store is down). */
  private resync(delayMs: number): void {
    this.watch = undefined;
    if (this.closed || this.resyncTimer) return;
    this.logger.warn({ prefix: this.keys.prefix }, 'cluster state: watch history compacted, reading the store again');
    this.sync().catch((err: unknown) => {
      this.logger.warn({ err: errorMessage(err) }, 'cluster state re-sync failed; retrying');
      this.resyncTimer = this.clock.setTimeout(() => {
        this.resyncTimer = undefined;
        this.resync(Math.min(RESYNC_RETRY_MAX_MS, delayMs * 2));
      }, delayMs);
    });
  }

  private cachedKeys(): string[] {
    const keys = [...this.nodeCache.keys()].map((n) => this.keys.node(n));
    for (const [vmr, byLocation] of this.locationCache) for (const l of byLocation.keys()) keys.push(this.keys.location(vmr, l));
    for (const vmr of this.instanceCache.keys()) keys.push(this.keys.instance(vmr));
    return keys;
  }

  private revisionOf(key: string, parsed: ClusterKey): number {
    const tomb = this.tombstones.get(key) ?? 0;
    switch (parsed.kind) {
      case 'node':
        return Math.max(tomb, this.nodeCache.get(parsed.name)?.modRevision ?? 0);
      case 'location':
        return Math.max(tomb, this.conferenceLocation(parsed.conference, parsed.location)?.modRevision ?? 0);
      case 'instance':
        return Math.max(tomb, this.instanceCache.get(parsed.conference)?.modRevision ?? 0);
    }
  }

  private applyPut(key: string, value: string, modRevision: number): void {
    const parsed = this.keys.parse(key);
    if (!parsed) {
      this.logger.debug({ key }, 'cluster state: unknown key ignored');
      return;
    }
    if (this.revisionOf(key, parsed) >= modRevision) return;
    this.tombstones.delete(key);
    const invalid = (error: string): void => {
      this.logger.warn({ key, modRevision, error }, 'cluster state: invalid record in the store ignored');
      this.applyDelete(key, modRevision);
    };
    switch (parsed.kind) {
      case 'node': {
        const r = parseRecord(NodeRecordSchema, value);
        if (!r.ok || r.value.name !== parsed.name) return invalid(r.ok ? `name ${r.value.name} does not match the key` : r.error);
        const previous = this.nodeCache.get(parsed.name)?.record;
        this.nodeCache.set(parsed.name, { record: r.value, modRevision });
        if (previous) this.events.emit('node-updated', r.value, previous);
        else this.events.emit('node-up', r.value);
        return;
      }
      case 'location': {
        const r = parseRecord(ConferenceLocationRecordSchema, value);
        const mismatch = r.ok && (r.value.conference !== parsed.conference || r.value.location !== parsed.location);
        if (!r.ok || mismatch) return invalid(r.ok ? 'conference or location does not match the key' : r.error);
        let byLocation = this.locationCache.get(parsed.conference);
        if (!byLocation) this.locationCache.set(parsed.conference, (byLocation = new Map()));
        byLocation.set(parsed.location, { record: r.value, modRevision });
        this.events.emit('conference-changed', { kind: 'location', conference: parsed.conference, location: parsed.location, record: r.value, modRevision });
        return;
      }
      case 'instance': {
        const r = parseRecord(ConferenceInstanceRecordSchema, value);
        if (!r.ok) return invalid(r.error);
        this.instanceCache.set(parsed.conference, { record: r.value, modRevision });
        this.events.emit('conference-changed', { kind: 'instance', conference: parsed.conference, instance: r.value, modRevision });
        return;
      }
    }
  }

  private applyDelete(key: string, revision: number): void {
    const parsed = this.keys.parse(key);
    if (!parsed || this.revisionOf(key, parsed) >= revision) return;
    this.tombstones.set(key, revision);
    switch (parsed.kind) {
      case 'node': {
        const last = this.nodeCache.get(parsed.name);
        if (!last) return;
        this.nodeCache.delete(parsed.name);
        this.events.emit('node-down', last.record);
        return;
      }
      case 'location': {
        const byLocation = this.locationCache.get(parsed.conference);
        if (!byLocation?.delete(parsed.location)) return;
        if (byLocation.size === 0) this.locationCache.delete(parsed.conference);
        this.events.emit('conference-changed', { kind: 'location', conference: parsed.conference, location: parsed.location, record: undefined, modRevision: revision });
        return;
      }
      case 'instance': {
        if (!this.instanceCache.delete(parsed.conference)) return;
        this.events.emit('conference-changed', { kind: 'instance', conference: parsed.conference, instance: undefined, modRevision: revision });
        return;
      }
    }
  }
}

function checkSegment(what: string, name: string): void {
  if (!isKeySegment(name)) throw new ConfnodeError('bad-request', `${what} name ${JSON.stringify(name)} cannot be a store key segment`);
}

function validLocationRecord(vmr: string, location: string, next: ConferenceLocationRecord): ConferenceLocationRecord {
  const r = ConferenceLocationRecordSchema.safeParse(next);
  if (!r.success) throw new ConfnodeError('bad-request', `invalid conference location record: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  if (r.data.conference !== vmr || r.data.location !== location) {
    throw new ConfnodeError('bad-request', `record for ${r.data.conference}/${r.data.location} written at ${vmr}/${location}`);
  }
  return r.data;
}
