/**
 * The admin log: a bounded in-memory ring of operator-facing events (conference started/ended,
 * rejections, overflow later), served by GET /api/v1/log. Also mirrored to the process log.
 */
import type { Logger } from '../common';

export interface AdminLogEntry {
  time: string;
  level: 'info' | 'warn' | 'error';
  message: string;
  conference?: string;
  participant?: string;
  [field: string]: unknown;
}

export class AdminLog {
  private readonly entries: AdminLogEntry[] = [];
  constructor(
    private readonly logger: Logger,
    private readonly limit = 1000,
    private readonly now: () => Date = () => new Date(),
  ) {}

  add(level: AdminLogEntry['level'], message: string, fields: Omit<AdminLogEntry, 'time' | 'level' | 'message'> = {}): void {
    const entry: AdminLogEntry = { time: this.now().toISOString(), level, message, ...fields };
    this.entries.push(entry);
    if (this.entries.length > this.limit) this.entries.splice(0, this.entries.length - this.limit);
    this.logger[level]({ admin: true, ...fields }, message);
  }

  list(): AdminLogEntry[] {
    return [...this.entries];
  }
}
