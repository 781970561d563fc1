import { electProxy, paysBackplane, wantedLinks, type LocationMedia } from './index';

const everyone = (): boolean => true;
const allBut = (...dead: string[]) => (n: string): boolean => !dead.includes(n);

const conference: LocationMedia[] = [
  { location: 'USA', mediaNodes: ['US2', 'US3', 'US1'], proxyNode: 'US2' },
  { location: 'Mexico', mediaNodes: ['MX1'] },
  { location: 'Canada', mediaNodes: ['CA1', 'CA2'], proxyNode: 'CA2' },
];

describe('electProxy() (R9)', () => {
  it('keeps the recorded proxy while it is alive and a media node there', () => {
    expect(electProxy({ location: 'USA', mediaNodes: ['A', 'B'], proxyNode: 'B' }, everyone)).toBe('B');
  });

  it('without a record, or when the recorded one died or left, the earliest-allocated live media node', () => {
    expect(electProxy({ location: 'USA', mediaNodes: ['A', 'B'] }, everyone)).toBe('A');
    expect(electProxy({ location: 'USA', mediaNodes: ['A', 'B', 'C'], proxyNode: 'A' }, allBut('A'))).toBe('B');
    expect(electProxy({ location: 'USA', mediaNodes: ['B', 'C'], proxyNode: 'A' }, everyone)).toBe('B');
    expect(electProxy({ location: 'USA', mediaNodes: ['A'] }, allBut('A'))).toBeUndefined();
  });
});

describe('wantedLinks() (R4, R9, R12)', () => {
  it('R9: a proxy has local links to its location and a geo link to each other location\'s proxy', () => {
    expect(wantedLinks('US2', 'USA', conference, everyone)).toEqual([
      { peer: 'CA2', kind: 'geo', location: 'Canada' },
      { peer: 'MX1', kind: 'geo', location: 'Mexico' },
      { peer: 'US1', kind: 'local', location: 'USA' },
      { peer: 'US3', kind: 'local', location: 'USA' },
    ]);
  });

  it('R12: a media node that is not the proxy links only inside its location', () => {
    expect(wantedLinks('US3', 'USA', conference, everyone)).toEqual([
      { peer: 'US1', kind: 'local', location: 'USA' },
      { peer: 'US2', kind: 'local', location: 'USA' },
    ]);
    expect(wantedLinks('CA1', 'Canada', conference, everyone)).toEqual([{ peer: 'CA2', kind: 'local', location: 'Canada' }]);
  });

  it('every geo link is wanted by both of its ends: the full mesh of proxies', () => {
    const nodes = conference.flatMap((l) => l.mediaNodes.map((n) => [n, l.location] as const));
    const geo = new Set<string>();
    for (const [n, loc] of nodes) for (const l of wantedLinks(n, loc, conference, everyone)) if (l.kind === 'geo') geo.add([n, l.peer].sort().join('-'));
    expect([...geo].sort()).toEqual(['CA2-MX1', 'CA2-US2', 'MX1-US2']);
    for (const pair of geo) {
      const [a, b] = pair.split('-') as [string, string];
      const locOf = (x: string): string => nodes.find(([n]) => n === x)?.[1] ?? '';
      expect(wantedLinks(a, locOf(a), conference, everyone).some((l) => l.peer === b)).toBe(true);
      expect(wantedLinks(b, locOf(b), conference, everyone).some((l) => l.peer === a)).toBe(true);
    }
  });

  it('a dead proxy: its location re-elects, the other locations link to the new proxy and keep their own links', () => {
    const alive = allBut('US2');
    expect(wantedLinks('US3', 'USA', conference, alive)).toEqual([
      { peer: 'CA2', kind: 'geo', location: 'Canada' },
      { peer: 'MX1', kind: 'geo', location: 'Mexico' },
      { peer: 'US1', kind: 'local', location: 'USA' },
    ]);
    expect(wantedLinks('MX1', 'Mexico', conference, alive)).toEqual([
      { peer: 'CA2', kind: 'geo', location: 'Canada' },
      { peer: 'US3', kind: 'geo', location: 'USA' },
    ]);
    expect(wantedLinks('CA1', 'Canada', conference, alive)).toEqual([{ peer: 'CA2', kind: 'local', location: 'Canada' }]);
  });

  it('a node that carries no media of the conference wants nothing; a lone location wants nothing', () => {
    expect(wantedLinks('US9', 'USA', conference, everyone)).toEqual([]);
    expect(wantedLinks('A', 'USA', [{ location: 'USA', mediaNodes: ['A'] }], everyone)).toEqual([]);
  });

  it('paysBackplane: any backplane, local or geo; a lone node pays once the conference reaches another location', () => {
    expect(paysBackplane('A', 'USA', [{ location: 'USA', mediaNodes: ['A'] }], everyone)).toBe(false);
    expect(paysBackplane('A', 'USA', [{ location: 'USA', mediaNodes: ['A'] }, { location: 'Mexico', mediaNodes: ['M'] }], everyone)).toBe(true);
    expect(paysBackplane('US3', 'USA', conference, everyone)).toBe(true);
  });
});
