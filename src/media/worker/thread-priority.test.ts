import { readFileSync } from 'node:fs';
import type { Logger } from '../../common';
import { builtWorkerService } from './built-service';
import { currentThreadId, setThreadNice } from './thread-priority';

/** Field 19 of /proc/<pid>/task/<tid>/stat is the nice value (after the parenthesised comm). */
function niceOf(tid: number): number {
  const stat = readFileSync(`/proc/${process.pid}/task/${tid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

function capturingLogger(lines: Array<{ msg: string; fields: Record<string, unknown> }>): Logger {
  const at = (obj: object, msg?: string): void => {
    lines.push({ msg: msg ?? '', fields: obj as Record<string, unknown> });
  };
  const logger: Logger = { debug: at, info: at, warn: at, error: at, child: () => logger };
  return logger;
}

describe('media worker thread priority (media.worker_nice)', () => {
  it('each media worker thread sets its own nice value; the main thread keeps its own', async () => {
    expect(currentThreadId()).toBe(process.pid);
    const before = niceOf(process.pid);
    const lines: Array<{ msg: string; fields: Record<string, unknown> }> = [];
    // A positive nice needs no privilege: the test holds as root and as a plain user.
    const service = await builtWorkerService({ workers: 2, rtpPorts: { min: 44700, max: 44707 }, workerNice: 5, logger: capturingLogger(lines) });
    try {
      const deadline = Date.now() + 5000;
      let raised = lines.filter((l) => l.msg === 'media worker thread nice set');
      while (raised.length < 2 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
        raised = lines.filter((l) => l.msg === 'media worker thread nice set');
      }
      const tids = raised.map((l) => l.fields.tid as number);
      expect(tids).toHaveLength(2);
      for (const tid of tids) {
        expect(tid).not.toBe(process.pid);
        expect(niceOf(tid)).toBe(5);
      }
      expect(niceOf(process.pid)).toBe(before);
    } finally {
      await service.close();
    }
  });

  it('nice 0 leaves the thread alone', () => {
    expect(setThreadNice(0)).toEqual({ applied: false, reason: 'media.worker_nice is 0' });
  });
});
