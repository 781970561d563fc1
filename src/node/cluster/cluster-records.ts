/**
 * What the cluster keeps in the store and where (DESIGN.md section 5): zod schemas of the JSON
 * records, which are the source of their types, and the key layout under a versioned prefix.
 * Pure; every value read from the store goes through `parseRecord` before anyone trusts it.
 */
import { z } from 'zod';

/** R5: at most three nodes of a location carry one conference's media. */
export const MAX_MEDIA_NODES_PER_LOCATION = 3;

export const DEFAULT_CLUSTER_PREFIX = '/confnode/v1/';

/** Names become key segments: no '/', nothing empty (config names are stricter still). */
const segment = z.string().min(1).max(200).regex(/^[^/\s]+$/, "must not be empty or contain '/' or spaces");

const endpointSchema = z.object({
  address: z.string().min(1),
  port: z.number().int().min(1).max(65535),
});

const units = z.number().finite().min(0);

// Unknown fields are dropped, not refused: a newer node may add fields during a rolling upgrade.
export const NodeRecordSchema = z.object({
  name: segment,
  location: segment,
  sip: endpointSchema,
  http: endpointSchema,
  control: endpointSchema,
  capacity: units,
  load: units,
  state: z.enum(['active', 'draining']),
  version: z.string(),
});
export type NodeRecord = z.infer<typeof NodeRecordSchema>;
export type NodeState = NodeRecord['state'];

export const ConferenceLocationRecordSchema = z.object({
  conference: segment,
  instanceId: z.string().min(1),
  location: segment,
  /** Allocation order: the first is where the conference started in the location. */
  mediaNodes: z
    .array(segment)
    .max(MAX_MEDIA_NODES_PER_LOCATION)
    .refine((names) => new Set(names).size === names.length, 'media nodes must be distinct'),
  proxyNode: segment.optional(),
});
export type ConferenceLocationRecord = z.infer<typeof ConferenceLocationRecordSchema>;

export const ConferenceInstanceRecordSchema = z.object({
  instanceId: z.string().min(1),
  /** Wall-clock milliseconds since the epoch, from the node that started the conference. */
  startedAt: z.number().finite(),
});
export type ConferenceInstanceRecord = z.infer<typeof ConferenceInstanceRecordSchema>;

/** A key of ours, decoded. */
export type ClusterKey =
  | { kind: 'node'; name: string }
  | { kind: 'location'; conference: string; location: string }
  | { kind: 'instance'; conference: string };

/**
 * The layout: `nodes/<name>`, `conferences/<vmr>/instance`, `conferences/<vmr>/locations/<location>`
 * (locations one level down, so a location named "instance" cannot collide with the instance key).
 */
export class ClusterKeys {
  constructor(readonly prefix: string) {}

  get nodes(): string {
    return `${this.prefix}nodes/`;
  }

  node(name: string): string {
    return `${this.nodes}${name}`;
  }

  conference(vmr: string): string {
    return `${this.prefix}conferences/${vmr}/`;
  }

  instance(vmr: string): string {
    return `${this.conference(vmr)}instance`;
  }

  location(vmr: string, location: string): string {
    return `${this.conference(vmr)}locations/${location}`;
  }

  parse(key: string): ClusterKey | undefined {
    if (!key.startsWith(this.prefix)) return undefined;
    const parts = key.slice(this.prefix.length).split('/');
    const [top, a, b, c] = parts;
    if (top === 'nodes' && parts.length === 2 && a) return { kind: 'node', name: a };
    if (top !== 'conferences' || !a) return undefined;
    if (parts.length === 3 && b === 'instance') return { kind: 'instance', conference: a };
    if (parts.length === 4 && b === 'locations' && c) return { kind: 'location', conference: a, location: c };
    return undefined;
  }
}

/** A record of the given schema from store text, or the reason it is not one. */
export function parseRecord<T>(schema: z.ZodType<T>, text: string): { ok: true; value: T } | { ok: false; error: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { ok: false, error: `not JSON: ${e instanceof Error ? e.message : String(e)}` };
  }
  const r = schema.safeParse(json);
  if (!r.success) return { ok: false, error: r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ') };
  return { ok: true, value: r.data };
}

/** Throws (as the caller's bad request) when a name cannot be a key segment. */
export function isKeySegment(name: string): boolean {
  return segment.safeParse(name).success;
}
