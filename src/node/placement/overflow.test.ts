import { decidePlacement, describeDecision, SEED_GLOBAL_CAPACITIES, SEED_GLOBAL_OVERFLOW, type PlacementDecision, type PlacementNode, type PlacementRequest } from './index';

const AUDIO = 0.25;
const BACKPLANE = 1;

/** A conference as the store holds it: media nodes per location, and every node's load. */
interface World {
  nodes: PlacementNode[];
  media: Record<string, string[]>;
}

function seedWorld(): World {
  const nodes: PlacementNode[] = [];
  for (const [location, caps] of Object.entries(SEED_GLOBAL_CAPACITIES)) {
    for (const [name, capacity] of Object.entries(caps)) nodes.push({ name, location, capacity, load: 0, state: 'active' });
  }
  return { nodes, media: {} };
}

const locationOf = (w: World, name: string): string => w.nodes.find((n) => n.name === name)?.location ?? '?';

function decide(w: World, signalingNode: string, extra: Partial<PlacementRequest> = {}): PlacementDecision {
  const location = locationOf(w, signalingNode);
  const { [location]: mediaNodes = [], ...otherLocations } = w.media;
  return decidePlacement(
    { signalingNode, location, cost: AUDIO, backplaneCost: BACKPLANE, overflow: SEED_GLOBAL_OVERFLOW[location], ...extra },
    { nodes: w.nodes, mediaNodes, otherLocations },
  );
}

/** What the cluster does with a decision: the list is committed, the caller and the backplane units charged. */
function apply(w: World, d: PlacementDecision): World {
  if (d.kind !== 'place') throw new Error(`expected a placement, got ${describeDecision(d)}`);
  const nodes = w.nodes.map((n) => ({ ...n, load: n.load + (n.name === d.node ? AUDIO : 0) + (d.backplaneCharges.includes(n.name) ? BACKPLANE : 0) }));
  return { nodes, media: { ...w.media, [d.location]: d.mediaNodes } };
}

/** Six USA callers fill USA for the conference (seed-example.ts). */
function usaFull(): World {
  let w = seedWorld();
  for (const signaling of ['USConf01', 'USConf02', 'USConf03', 'USConf01', 'USConf02', 'USConf03']) w = apply(w, decide(w, signaling));
  expect(w.media.USA).toEqual(['USConf02', 'USConf03', 'USConf01']);
  expect(decidePlacement({ signalingNode: 'USConf01', location: 'USA', cost: AUDIO, backplaneCost: BACKPLANE }, { nodes: w.nodes, mediaNodes: w.media.USA ?? [] })).toMatchObject({ kind: 'reject' });
  return w;
}

describe('decidePlacement() overflow: the seed globally distributed example (seeds/004)', () => {
  it('R6: Emma (USConf01, USA full) -> Mexico; Frank (MexConf01, Mexico full) -> Brazil; Greta (USConf03, USA and Mexico full) -> Canada, never Brazil', () => {
    let w = usaFull();
    const emma = decide(w, 'USConf01');
    expect(emma).toMatchObject({ kind: 'place', node: 'MexConf01', location: 'Mexico', reason: 'overflow-primary', within: 'least-loaded', mediaNodes: ['MexConf01'], changed: true });
    // MexConf01 is Mexico's first media node of a conference running in USA: it pays its geo backplane at once.
    expect(emma).toMatchObject({ backplaneCharges: ['MexConf01'] });
    w = apply(w, emma);
    const frank = decide(w, 'MexConf01');
    expect(frank).toMatchObject({ kind: 'place', node: 'BraConf01', location: 'Brazil', reason: 'overflow-primary', within: 'least-loaded' });
    w = apply(w, frank);
    const greta = decide(w, 'USConf03');
    expect(greta).toMatchObject({ kind: 'place', node: 'CanConf01', location: 'Canada', reason: 'overflow-secondary', within: 'least-loaded' });
    w = apply(w, greta);
    // Brazil still has room, which Greta never used.
    const bra = w.nodes.find((n) => n.name === 'BraConf01');
    expect(bra && bra.capacity - bra.load).toBeGreaterThanOrEqual(AUDIO + 0.5);
  });

  it('R8: USA, Mexico and Canada full: a USA caller is rejected (naming each location) while a Brazil caller joins', () => {
    let w = usaFull();
    for (const signaling of ['USConf01', 'MexConf01', 'USConf03']) w = apply(w, decide(w, signaling));
    const usa = decide(w, 'USConf02');
    expect(usa.kind).toBe('reject');
    expect(describeDecision(usa)).toMatch(/USA.*overflow-primary Mexico.*overflow-secondary Canada/);
    expect(decide(w, 'BraConf01')).toMatchObject({ kind: 'place', node: 'BraConf01', location: 'Brazil', reason: 'affinity' });
  });

  it('R6: a location overflows only by its own list: a Mexico caller with Mexico and Brazil full is rejected although Canada has room', () => {
    let w = usaFull();
    w = apply(w, decide(w, 'USConf01')); // Emma fills Mexico
    w = apply(w, decide(w, 'MexConf01')); // Frank -> Brazil
    while (decide(w, 'BraConf01').kind === 'place') w = apply(w, decide(w, 'BraConf01')); // fills Brazil
    expect(decide(w, 'MexConf01')).toMatchObject({ kind: 'reject' });
    expect(decide(w, 'USConf01')).toMatchObject({ node: 'CanConf01', reason: 'overflow-secondary' });
  });

  it('R6: overflow joins the conference where it already runs in the overflow location (affinity there, no second node)', () => {
    const nodes: PlacementNode[] = [
      { name: 'US1', location: 'USA', capacity: 1, load: 1, state: 'active' },
      { name: 'MX1', location: 'Mexico', capacity: 4, load: 1.5, state: 'active' },
      { name: 'MX2', location: 'Mexico', capacity: 10, load: 0, state: 'active' },
    ];
    const d = decidePlacement(
      { signalingNode: 'US1', location: 'USA', cost: AUDIO, backplaneCost: BACKPLANE, overflow: { primary: 'Mexico' } },
      { nodes, mediaNodes: ['US1'], otherLocations: { Mexico: ['MX1'] } },
    );
    expect(d).toMatchObject({ node: 'MX1', location: 'Mexico', reason: 'overflow-primary', within: 'affinity', changed: false, backplaneCharges: [] });
  });

  it('R6: no overflow configured: a full location rejects (R8), whatever room other locations have', () => {
    let w = usaFull();
    const d = decidePlacement(
      { signalingNode: 'USConf01', location: 'USA', cost: AUDIO, backplaneCost: BACKPLANE },
      { nodes: w.nodes, mediaNodes: w.media.USA ?? [], otherLocations: {} },
    );
    expect(d.kind).toBe('reject');
    w = apply(w, decide(w, 'USConf01'));
    expect(w.media.Mexico).toEqual(['MexConf01']);
  });

  it('R10: a caller of a location that emptied again gets media back home, not in the overflow location', () => {
    let w = usaFull();
    w = apply(w, decide(w, 'USConf01')); // Emma -> Mexico
    // Two callers on USConf02 leave: nothing moves, and the next USA caller uses the freed room at home.
    w = { ...w, nodes: w.nodes.map((n) => (n.name === 'USConf02' ? { ...n, load: n.load - 2 * AUDIO } : n)) };
    expect(decide(w, 'USConf03')).toMatchObject({ node: 'USConf02', location: 'USA', reason: 'affinity' });
  });

  it('a location whose only media node is dead starts afresh there instead of overflowing', () => {
    const w = seedWorld();
    const d = decide({ ...w, media: { USA: ['gone'] } }, 'USConf01');
    expect(d).toMatchObject({ location: 'USA', reason: 'least-loaded', mediaNodes: ['USConf02'], changed: true });
  });

  it("refuses an overflow list naming the caller's own location or the same location twice", () => {
    const w = seedWorld();
    expect(() => decide(w, 'USConf01', { overflow: { primary: 'USA' } })).toThrow(/overflow/);
    expect(() => decide(w, 'USConf01', { overflow: { primary: 'Mexico', secondary: 'Mexico' } })).toThrow(/overflow/);
  });
});
