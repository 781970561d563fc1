/**
 * Reads a process's resident memory and CPU time from /proc for the SFU bench (the node, the
 * dgram forwarder, the bench itself). Figures only: a read that fails gives undefined/zero and
 * never throws; it never signals or touches the process it reads.
 */
import { readFileSync } from 'node:fs';
import { procCpu } from '../../test/helpers/proc-stat';
import { rssKbFromStatus } from './stats';

/** VmRSS of `pid` in kB, or undefined when the process is gone. */
export function rssKb(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    return rssKbFromStatus(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** utime and stime of `pid` (all its threads) in seconds; zeros when unreadable. */
export const cpuSplit = procCpu;

/** utime + stime of `pid` in seconds; 0 when unreadable. */
export function cpuSeconds(pid: number | undefined): number {
  const t = cpuSplit(pid);
  return t.user + t.system;
}

/** This process's own CPU seconds (the load generator and receivers run here). */
export function ownCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

export function mb(kb: number | undefined): number | undefined {
  return kb === undefined ? undefined : Math.round(kb / 102.4) / 10;
}
