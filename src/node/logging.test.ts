import { createLogger } from './logging';

function collect(): { lines: Record<string, unknown>[]; write(line: string): void } {
  const lines: Record<string, unknown>[] = [];
  return { lines, write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) };
}

describe('createLogger()', () => {
  it('writes one JSON line per event with the node name, level name, ISO time and fields', () => {
    const out = collect();
    const log = createLogger({ level: 'info', nodeName: 'node1', destination: out });
    log.info({ conference: 'meet', participants: 2 }, 'conference started');
    expect(out.lines).toHaveLength(1);
    expect(out.lines[0]).toMatchObject({ node: 'node1', level: 'info', conference: 'meet', participants: 2, msg: 'conference started' });
    expect(String(out.lines[0]?.time)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('drops events below the configured level', () => {
    const out = collect();
    const log = createLogger({ level: 'warn', nodeName: 'n', destination: out });
    log.debug({}, 'no');
    log.info({}, 'no');
    log.warn({}, 'yes');
    log.error({}, 'yes');
    expect(out.lines.map((l) => l.msg)).toEqual(['yes', 'yes']);
  });

  it('child loggers keep the node name and add their bindings', () => {
    const out = collect();
    const log = createLogger({ level: 'debug', nodeName: 'n2', destination: out }).child({ module: 'sip' });
    log.debug({ callId: 'abc' }, 'invite');
    expect(out.lines[0]).toMatchObject({ node: 'n2', module: 'sip', callId: 'abc', level: 'debug' });
  });

  it('serialises an err field with its message and stack', () => {
    const out = collect();
    createLogger({ level: 'info', nodeName: 'n', destination: out }).error({ err: new Error('boom') }, 'failed');
    expect(out.lines[0]?.err).toMatchObject({ type: 'Error', message: 'boom' });
  });

  it('refuses an unknown level with a config error', () => {
    expect(() => createLogger({ level: 'verbose', nodeName: 'n' })).toThrow(/log level 'verbose' is not one of/);
  });
});
