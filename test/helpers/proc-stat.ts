/**
 * CPU time from /proc for tests and the bench: a process's utime and stime, the whole machine's
 * busy jiffies. Pure parsers plus two readers that never throw (zeros when unreadable) and never
 * touch the process they read.
 */
import { readFileSync } from 'node:fs';

/** CPU seconds (user, system) from /proc/PID/stat content: fields 14 and 15 over `ticksPerSecond`. */
export function cpuTimesFromStat(stat: string, ticksPerSecond = 100): { user: number; system: number } | undefined {
  // comm (field 2) may hold spaces and parentheses: fields are counted after the last ')'.
  const close = stat.lastIndexOf(')');
  if (close < 0) return undefined;
  const fields = stat.slice(close + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return { user: utime / ticksPerSecond, system: stime / ticksPerSecond };
}

/**
 * Busy and total jiffies of the whole machine from the first line of /proc/stat, and the steal
 * part of busy (time the hypervisor ran something else while a vCPU wanted to run).
 */
export function machineJiffiesFromStat(stat: string): { busy: number; total: number; steal: number } | undefined {
  const line = stat.split('\n', 1)[0] ?? '';
  if (!line.startsWith('cpu ')) return undefined;
  const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (v.length < 5 || v.some((x) => !Number.isFinite(x))) return undefined;
  const total = v.reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0); // idle + iowait
  return { busy: total - idle, total, steal: v[7] ?? 0 };
}

/** utime and stime of `pid` (all its threads) in seconds; zeros when unreadable. */
export function procCpu(pid: number | undefined): { user: number; system: number } {
  const none = { user: 0, system: 0 };
  if (pid === undefined) return none;
  try {
    return cpuTimesFromStat(readFileSync(`/proc/${pid}/stat`, 'utf8')) ?? none;
  } catch {
    return none;
  }
}

/** The whole machine's busy and total CPU jiffies (all cores), for the load beside a measurement. */
export function machineJiffies(): { busy: number; total: number; steal: number } {
  try {
    return machineJiffiesFromStat(readFileSync('/proc/stat', 'utf8')) ?? { busy: 0, total: 0, steal: 0 };
  } catch {
    return { busy: 0, total: 0, steal: 0 };
  }
}
