import { defaultConfigInput } from './defaults';
import { parseConfig } from './load';
import { assertSupported, unsupportedKeys } from './not-yet';

describe('keys the schema knows but this release does not act on', () => {
  it('routing rules are refused at start, naming the key; overflow (R6-R8) is accepted', () => {
    const input = defaultConfigInput();
    const cfg = parseConfig({
      ...input,
      locations: [{ name: 'local', overflow: { primary: 'far' } }, { name: 'far' }],
      routing_rules: [{ name: 'pstn', priority: 1, match: '^9', target: 'sip:gw@127.0.0.1' }],
    });
    expect(unsupportedKeys(cfg).map((i) => i.path)).toEqual(['routing_rules']);
    expect(() => assertSupported(cfg)).toThrow(/config error: routing_rules: the distributed gateway \(R11\) is not built yet/);
  });

  it('the embedded default and a plain cluster config start', () => {
    expect(unsupportedKeys(parseConfig(defaultConfigInput()))).toEqual([]);
  });
});
