/**
 * What the etcd store's parts share: errors from etcd3/gRPC mapped to ConfnodeError codes, the
 * end key of a prefix range, and a timeout that backs up gRPC's deadline. Never retries anything.
 */
import { ClientClosedError, EtcdLeaseInvalidError, GRPCInvalidArgumentError, type IKeyValue } from 'etcd3';
import { ConfnodeError, errorMessage, type Clock } from '../../common';
import type { KeyValue } from './store';

/** 'unavailable' unless etcd said something more precise (bad request, missing lease, closed). */
export function toStoreError(err: unknown, what: string): ConfnodeError {
  if (err instanceof ConfnodeError) return err;
  if (err instanceof EtcdLeaseInvalidError) return new ConfnodeError('not-found', `${what}: lease not found (expired or revoked)`, { cause: err });
  if (err instanceof GRPCInvalidArgumentError) return new ConfnodeError('bad-request', `${what}: ${errorMessage(err)}`, { cause: err });
  if (err instanceof ClientClosedError) return new ConfnodeError('closed', `${what}: cluster store is closed`, { cause: err });
  return new ConfnodeError('unavailable', `${what}: etcd unreachable (${errorMessage(err)})`, { cause: err });
}

/** The range end that selects every key starting with `prefix` (etcd's prefix convention). */
export function prefixRangeEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix, 'utf8');
  for (let i = end.length - 1; i >= 0; i--) {
    const byte = end[i] ?? 0xff;
    if (byte < 0xff) {
      end[i] = byte + 1;
      return end.subarray(0, i + 1);
    }
  }
  // Empty prefix or all 0xff: "\0" means every key from the start key on.
  return Buffer.from([0]);
}

/** The start key of a prefix range ("\0" for the empty prefix: every key). */
export function prefixRangeStart(prefix: string): Buffer {
  return prefix === '' ? Buffer.from([0]) : Buffer.from(prefix, 'utf8');
}

export function fromEtcdKv(kv: IKeyValue): KeyValue {
  const out: KeyValue = {
    key: kv.key.toString('utf8'),
    value: kv.value.toString('utf8'),
    createRevision: Number(kv.create_revision),
    modRevision: Number(kv.mod_revision),
  };
  return kv.lease && kv.lease !== '0' ? { ...out, lease: kv.lease } : out;
}

/**
 * Rejects with 'unavailable' after `ms` if `promise` has not settled: the gRPC deadline should
 * come first; this covers what runs before the call (connection, auth) and stalls on streams.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, clock: Clock, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = clock.setTimeout(() => reject(new ConfnodeError('unavailable', `${what}: etcd did not answer within ${ms} ms`)), ms);
    promise.then(
      (v) => {
        timer.cancel();
        resolve(v);
      },
      (e: unknown) => {
        timer.cancel();
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
