import { ConfnodeError } from '../common';
import { parseCli } from './cli';

describe('parseCli()', () => {
  it('no arguments means the embedded defaults', () => {
    expect(parseCli([])).toEqual({ help: false });
  });
  it('--config FILE --node NAME (and the = form)', () => {
    expect(parseCli(['--config', 'a.yaml', '--node', 'n1'])).toMatchObject({ configPath: 'a.yaml', nodeName: 'n1' });
    expect(parseCli(['--config=a.yaml', '--node=n1', '--log-level', 'debug'])).toMatchObject({ configPath: 'a.yaml', nodeName: 'n1', logLevel: 'debug' });
  });
  it.each([
    [['--config', 'a.yaml'], '--config needs --node'],
    [['--node', 'n1'], '--node needs --config'],
    [['--config'], '--config needs a value'],
    [['--config', '--node', 'x'], '--config needs a value'],
    [['--bogus'], "unknown argument '--bogus'"],
  ])('refuses %j with a clear message', (argv, msg) => {
    expect(() => parseCli(argv)).toThrow(ConfnodeError);
    expect(() => parseCli(argv)).toThrow(msg);
  });
});
