import { ConfnodeError, seededRandom } from '../../common';
import { fits } from '../conference/capacity';
import {
  availableCapacity,
  decidePlacement,
  describeDecision,
  SEED_USA_CAPACITIES,
  SEED_USA_LOCATION,
  type PlacementDecision,
  type PlacementNode,
  type PlacementRequest,
  type PlacementSnapshot,
} from './index';

const AUDIO = 0.25;
const VIDEO = 1;
const BACKPLANE = 1;

function node(name: string, capacity: number, load = 0, state: PlacementNode['state'] = 'active', location = 'USA'): PlacementNode {
  return { name, location, capacity, load, state };
}

function request(signalingNode: string, extra: Partial<PlacementRequest> = {}): PlacementRequest {
  return { signalingNode, location: 'USA', cost: AUDIO, backplaneCost: BACKPLANE, ...extra };
}

/** What the real node does with a committed decision: the media node pays the caller, charged nodes the backplane. */
function apply(snap: PlacementSnapshot, d: PlacementDecision, cost: number, backplaneCost = BACKPLANE): PlacementSnapshot {
  if (d.kind !== 'place') throw new Error(`expected a placement, got ${describeDecision(d)}`);
  const nodes = snap.nodes.map((n) => {
    let load = n.load + (n.name === d.node ? cost : 0);
    if (d.backplaneCharges.includes(n.name)) load += backplaneCost;
    return { ...n, load };
  });
  return { nodes, mediaNodes: d.mediaNodes };
}

function loads(snap: PlacementSnapshot): Record<string, number> {
  return Object.fromEntries(snap.nodes.map((n) => [n.name, n.load]));
}

function seedSnapshot(): PlacementSnapshot {
  const nodes = Object.entries(SEED_USA_CAPACITIES).map(([name, capacity]) => node(name, capacity, 0, 'active', SEED_USA_LOCATION));
  return { nodes, mediaNodes: [] };
}

describe('decidePlacement() seed example (seeds/004, locally distributed)', () => {
  // caller, signaling node, media node, reason, media nodes to CAS, CAS needed, backplane charges
  const steps: Array<[string, string, string, string, string[], boolean, string[]]> = [
    ['Alice', 'USConf01', 'USConf02', 'least-loaded', ['USConf02'], true, []],
    ['Bob', 'USConf02', 'USConf02', 'affinity', ['USConf02'], false, []],
    ['Carol', 'USConf03', 'USConf02', 'affinity', ['USConf02'], false, []],
    ['Dave', 'USConf01', 'USConf03', 'expansion', ['USConf02', 'USConf03'], true, ['USConf02', 'USConf03']],
  ];

  it('R1-R4: Alice USConf01->USConf02, Bob USConf02->USConf02, Carol USConf03->USConf02, Dave USConf01->USConf03', () => {
    let snap = seedSnapshot();
    for (const [caller, signaling, media, reason, list, changed, charges] of steps) {
      const d = decidePlacement(request(signaling, { location: SEED_USA_LOCATION }), snap);
      expect({ caller, d }).toEqual({ caller, d: { kind: 'place', node: media, location: 'USA', reason, within: reason, mediaNodes: list, changed, backplaneCharges: charges } });
      snap = apply(snap, d, AUDIO);
    }
    // USConf02 paid its backplane out of the unit it kept free: exactly full, never overrun.
    expect(loads(snap)).toEqual({ USConf01: 0, USConf02: 1.75, USConf03: 1.25 });
  });

  it('R3-R5: after Dave, USConf03 fills, USConf01 becomes the third node, then the location is full', () => {
    let snap = seedSnapshot();
    for (const [, signaling] of steps) snap = apply(snap, decidePlacement(request(signaling), snap), AUDIO);
    const fifth = decidePlacement(request('USConf02'), snap);
    expect(fifth).toMatchObject({ node: 'USConf03', reason: 'affinity', changed: false, backplaneCharges: [] });
    snap = apply(snap, fifth, AUDIO);
    const sixth = decidePlacement(request('USConf03'), snap);
    expect(sixth).toMatchObject({ node: 'USConf01', reason: 'expansion', mediaNodes: ['USConf02', 'USConf03', 'USConf01'], backplaneCharges: ['USConf01'] });
    snap = apply(snap, sixth, AUDIO);
    expect(decidePlacement(request('USConf01'), snap)).toMatchObject({ kind: 'reject', reason: 'rejected-full' });
  });
});

describe('decidePlacement() R2: not running in the location', () => {
  const cases: Array<[name: string, nodes: PlacementNode[], expected: string]> = [
    ['the most available capacity wins', [node('A', 4, 1), node('B', 4, 0.5), node('C', 2)], 'B'],
    ['equal free capacity is broken by name', [node('C', 2), node('B', 3, 1), node('A', 2)], 'A'],
    ['float noise is a tie, not a winner', [node('B', 0.1 + 0.2 + 2), node('A', 0.3 + 2)], 'A'],
    ['with the only other node draining nothing is reserved', [node('A', 1.5, 0.5), node('B', 10, 0, 'draining')], 'A'],
    ['nodes of other locations are never chosen', [node('MX1', 10, 0, 'active', 'Mexico'), node('A', 2)], 'A'],
    ['a draining node takes no new conference', [node('A', 10, 0, 'draining'), node('B', 2)], 'B'],
  ];
  it.each(cases)('R2: %s', (_name, nodes, expected) => {
    const d = decidePlacement(request('A', { cost: VIDEO }), { nodes, mediaNodes: [] });
    expect(d).toEqual({ kind: 'place', node: expected, location: 'USA', reason: 'least-loaded', within: 'least-loaded', mediaNodes: [expected], changed: true, backplaneCharges: [] });
  });

  it('R2: the choice does not depend on the order of the nodes (deterministic)', () => {
    const nodes = [node('D', 3, 1), node('B', 2), node('A', 3, 1), node('C', 2)];
    const rnd = seededRandom(7);
    for (let i = 0; i < 20; i++) {
      const shuffled = [...nodes].sort(() => rnd() - 0.5);
      expect(decidePlacement(request('A'), { nodes: shuffled, mediaNodes: [] })).toMatchObject({ node: 'A' });
    }
  });

  it('R2: an excluded node (refused or unreachable) is skipped', () => {
    const d = decidePlacement(request('A', { exclude: ['B'] }), { nodes: [node('A', 2), node('B', 4)], mediaNodes: [] });
    expect(d).toMatchObject({ node: 'A', reason: 'least-loaded' });
  });

  it('R2: no node fits the caller plus the backplane reserve -> rejected-full; no node at all -> rejected-full', () => {
    expect(decidePlacement(request('A', { cost: VIDEO }), { nodes: [node('A', 2, 0.5), node('B', 1.5)], mediaNodes: [] })).toEqual({
      kind: 'reject',
      reason: 'rejected-full',
      detail: 'no active node of USA has room for a caller of cost 1',
    });
    expect(decidePlacement(request('A'), { nodes: [node('MX1', 9, 0, 'active', 'Mexico')], mediaNodes: [] })).toEqual({
      kind: 'reject',
      reason: 'rejected-full',
      detail: 'no node in location USA',
    });
  });
});

describe('decidePlacement() R3: affinity and the backplane reserve', () => {
  it('R3: a media node with room takes the caller even when another node is freer', () => {
    const d = decidePlacement(request('B'), { nodes: [node('A', 2, 0.5), node('B', 10)], mediaNodes: ['A'] });
    expect(d).toEqual({ kind: 'place', node: 'A', location: 'USA', reason: 'affinity', within: 'affinity', mediaNodes: ['A'], changed: false, backplaneCharges: [] });
  });

  it('R3: with several media nodes the earliest-allocated with room wins', () => {
    const nodes = [node('A', 2, 2), node('B', 3, 2), node('C', 3, 1)];
    expect(decidePlacement(request('A'), { nodes, mediaNodes: ['A', 'B', 'C'] })).toMatchObject({ node: 'B', reason: 'affinity' });
  });

  it('R3: a lone node of a one-location cluster reserves nothing: capacity 1 takes exactly four 0.25 callers', () => {
    let snap: PlacementSnapshot = { nodes: [node('A', 1)], mediaNodes: [] };
    for (let i = 0; i < 4; i++) snap = apply(snap, decidePlacement(request('A'), snap), AUDIO);
    expect(loads(snap)).toMatchObject({ A: 1 });
    expect(decidePlacement(request('A'), snap)).toEqual({
      kind: 'reject',
      reason: 'rejected-full',
      detail: 'media nodes A of USA take no more media and no other active node fits 0.25 + backplane 1',
    });
  });

  it('R9: a lone node keeps the backplane unit free while another location could join the conference (its geo backplane)', () => {
    let snap: PlacementSnapshot = { nodes: [node('A', 1.5), node('MX1', 5, 0, 'active', 'Mexico')], mediaNodes: [] };
    for (let i = 0; i < 2; i++) snap = apply(snap, decidePlacement(request('A'), snap), AUDIO);
    expect(loads(snap)).toMatchObject({ A: 0.5 });
    expect(decidePlacement(request('A'), snap)).toMatchObject({ kind: 'reject' });
  });

  it('R3/R4: with another active node, the only media node keeps the backplane unit free', () => {
    const nodes = [node('A', 2, 1), node('B', 2)];
    expect(decidePlacement(request('A'), { nodes, mediaNodes: ['A'] })).toMatchObject({ node: 'B', reason: 'expansion', backplaneCharges: ['A', 'B'] });
    // The other node draining: nowhere to expand to, so nothing is reserved.
    const draining = [node('A', 2, 1), node('B', 2, 0, 'draining')];
    expect(decidePlacement(request('A'), { nodes: draining, mediaNodes: ['A'] })).toMatchObject({ node: 'A', reason: 'affinity' });
  });

  it('R3: once two media nodes pay the backplane, no more is reserved', () => {
    const nodes = [node('A', 2, 1.75), node('B', 2, 1.25)];
    expect(decidePlacement(request('A'), { nodes, mediaNodes: ['A', 'B'] })).toMatchObject({ node: 'A', reason: 'affinity', backplaneCharges: [] });
  });

  it('R3: a draining or excluded media node takes no new media but stays in the list', () => {
    const nodes = [node('A', 4, 2, 'draining'), node('B', 4, 2), node('C', 4, 2)];
    expect(decidePlacement(request('A'), { nodes, mediaNodes: ['A', 'B', 'C'] })).toMatchObject({ node: 'B', mediaNodes: ['A', 'B', 'C'], changed: false });
    expect(decidePlacement(request('A', { exclude: ['B'] }), { nodes, mediaNodes: ['A', 'B', 'C'] })).toMatchObject({ node: 'C', mediaNodes: ['A', 'B', 'C'] });
  });
});

describe('decidePlacement() R4/R5: expansion, at most three media nodes', () => {
  it('R4: the next node is the most available that fits cost + backplane; earlier nodes start paying only 1 -> 2', () => {
    const second = decidePlacement(request('A'), { nodes: [node('A', 2, 1), node('B', 1.3), node('C', 2, 0.5), node('D', 1.6)], mediaNodes: ['A'] });
    expect(second).toEqual({ kind: 'place', node: 'D', location: 'USA', reason: 'expansion', within: 'expansion', mediaNodes: ['A', 'D'], changed: true, backplaneCharges: ['A', 'D'] });
    const third = decidePlacement(request('A'), { nodes: [node('A', 2, 2), node('D', 2, 2), node('B', 1.5), node('C', 1.75)], mediaNodes: ['A', 'D'] });
    expect(third).toEqual({ kind: 'place', node: 'C', location: 'USA', reason: 'expansion', within: 'expansion', mediaNodes: ['A', 'D', 'C'], changed: true, backplaneCharges: ['C'] });
  });

  it('R4: a node that fits the caller but not the backplane is not a candidate', () => {
    const d = decidePlacement(request('A'), { nodes: [node('A', 1, 1), node('B', 1, 0)], mediaNodes: ['A'] });
    expect(d).toMatchObject({ kind: 'reject', reason: 'rejected-full' });
  });

  it('R4: a lone node filled without reserve is not overrun when a second node appears', () => {
    const d = decidePlacement(request('A'), { nodes: [node('A', 1, 1), node('B', 5)], mediaNodes: ['A'] });
    expect(d).toEqual({ kind: 'reject', reason: 'rejected-full', detail: 'media nodes A of USA take no more media and A cannot carry a backplane' });
  });

  it('R5: four nodes, three media nodes full -> rejected-full, never a 4th node', () => {
    const nodes = [node('A', 2, 2), node('B', 2, 2), node('C', 2, 2), node('D', 100)];
    expect(decidePlacement(request('D'), { nodes, mediaNodes: ['A', 'B', 'C'] })).toEqual({
      kind: 'reject',
      reason: 'rejected-full',
      detail: 'media nodes A, B, C of USA take no more media and the limit of 3 is reached',
    });
  });

  it('R5: the limit is configurable (maxMediaNodes 1 never expands and reserves nothing)', () => {
    const nodes = [node('A', 1, 0.75), node('B', 5)];
    expect(decidePlacement(request('A', { maxMediaNodes: 1 }), { nodes, mediaNodes: ['A'] })).toMatchObject({ node: 'A', reason: 'affinity' });
    expect(decidePlacement(request('A', { maxMediaNodes: 1 }), { nodes: [node('A', 1, 1), node('B', 5)], mediaNodes: ['A'] })).toMatchObject({ kind: 'reject' });
  });

  it('R5: a dead media node is dropped from the list and its slot is free for expansion', () => {
    const nodes = [node('B', 2, 2), node('C', 2, 2), node('D', 3)];
    expect(decidePlacement(request('B'), { nodes, mediaNodes: ['A', 'B', 'C'] })).toEqual({
      kind: 'place',
      node: 'D',
      location: 'USA',
      reason: 'expansion',
      within: 'expansion',
      mediaNodes: ['B', 'C', 'D'],
      changed: true,
      backplaneCharges: ['D'],
    });
    // A dead node's removal alone is a change to commit, even when the caller lands by affinity.
    expect(decidePlacement(request('B'), { nodes: [node('B', 4, 2), node('C', 4, 2)], mediaNodes: ['B', 'gone', 'C'] })).toMatchObject({
      node: 'B',
      mediaNodes: ['B', 'C'],
      changed: true,
    });
  });
});

describe('decidePlacement() R10: no rebalancing', () => {
  it('R10: after leaves nobody moves; the next caller fills the freed earlier node', () => {
    // A and B were both full; two callers on A left.
    const nodes = [node('A', 2, 1.5), node('B', 2, 2), node('C', 2, 0)];
    const d = decidePlacement(request('C'), { nodes, mediaNodes: ['A', 'B'] });
    expect(d).toEqual({ kind: 'place', node: 'A', location: 'USA', reason: 'affinity', within: 'affinity', mediaNodes: ['A', 'B'], changed: false, backplaneCharges: [] });
  });

  it('R10: a later node that emptied stays a media node and is used again before any new node', () => {
    const nodes = [node('A', 2, 2), node('B', 2, 1), node('C', 5)];
    expect(decidePlacement(request('A'), { nodes, mediaNodes: ['A', 'B'] })).toMatchObject({ node: 'B', reason: 'affinity', changed: false });
  });
});

describe('decidePlacement() input and output', () => {
  it('refuses negative or non-finite costs and a bad limit with a ConfnodeError', () => {
    const snap = { nodes: [node('A', 1)], mediaNodes: [] };
    for (const extra of [{ cost: -1 }, { cost: Number.NaN }, { backplaneCost: Infinity }, { maxMediaNodes: 0 }, { maxMediaNodes: 1.5 }]) {
      expect(() => decidePlacement(request('A', extra), snap)).toThrow(ConfnodeError);
    }
  });

  it('availableCapacity is capacity minus load, negative when overcommitted', () => {
    expect(availableCapacity(node('A', 2, 0.5))).toBe(1.5);
    expect(availableCapacity(node('A', 1, 1.25))).toBe(-0.25);
  });

  it('describeDecision is one line naming the reason, the node and the list', () => {
    expect(describeDecision({ kind: 'place', node: 'B', location: 'USA', reason: 'expansion', within: 'expansion', mediaNodes: ['A', 'B'], changed: true, backplaneCharges: ['A', 'B'] })).toBe(
      'expansion -> B; media nodes A, B (changed); backplane charged to A, B',
    );
    expect(describeDecision({ kind: 'place', node: 'A', location: 'USA', reason: 'affinity', within: 'affinity', mediaNodes: ['A'], changed: false, backplaneCharges: [] })).toBe('affinity -> A; media nodes A');
    expect(describeDecision({ kind: 'reject', reason: 'rejected-full', detail: 'x' })).toBe('rejected-full: x');
  });
});

// --- property test -------------------------------------------------------------------------------

interface Case {
  req: PlacementRequest;
  snap: PlacementSnapshot;
}

function randomCase(rnd: () => number): Case {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rnd() * items.length)] as T;
  const quarters = (max: number): number => Math.floor(rnd() * (max * 4 + 1)) / 4;
  const nodes: PlacementNode[] = [];
  const usa = 1 + Math.floor(rnd() * 6);
  for (let i = 0; i < usa; i++) {
    const capacity = quarters(3);
    nodes.push(node(`N${i}`, capacity, Math.min(quarters(3.5), capacity + 0.5), rnd() < 0.2 ? 'draining' : 'active'));
  }
  for (let i = Math.floor(rnd() * 3); i > 0; i--) nodes.push(node(`MX${i}`, 5, 0, 'active', 'Mexico'));
  const maxMediaNodes = pick([undefined, undefined, undefined, 1, 2]);
  const limit = maxMediaNodes ?? 3;
  const candidates = [...nodes.filter((n) => n.location === 'USA').map((n) => n.name), 'dead'].sort(() => rnd() - 0.5);
  const mediaNodes = candidates.slice(0, Math.floor(rnd() * (limit + 1)));
  const exclude = nodes.filter(() => rnd() < 0.15).map((n) => n.name);
  const req = request('N0', { cost: pick([AUDIO, VIDEO]), backplaneCost: pick([1, 0.5, 0]), exclude, ...(maxMediaNodes === undefined ? {} : { maxMediaNodes }) });
  return { req, snap: { nodes, mediaNodes } };
}

/** Written apart from the implementation: could any allowed node take this caller? */
function someChoiceFits({ req, snap }: Case): boolean {
  const limit = req.maxMediaNodes ?? 3;
  const usa = snap.nodes.filter((n) => n.location === req.location);
  const live = snap.mediaNodes.flatMap((name) => usa.filter((n) => n.name === name));
  const allowed = usa.filter((n) => n.state === 'active' && !(req.exclude ?? []).includes(n.name));
  // A lone media node keeps the backplane unit while it could still get a local or a geo backplane.
  const geoPossible = snap.nodes.some((o) => o.location !== req.location && o.state === 'active');
  const reserveFor = (n: PlacementNode): number =>
    live.length < 2 && (geoPossible || (limit >= 2 && usa.some((o) => o.state === 'active' && o !== n && !live.includes(o)))) ? req.backplaneCost : 0;
  return allowed.some((n) => {
    if (live.length === 0 || live.includes(n)) return fits(n.load, req.cost + reserveFor(n), n.capacity);
    if (live.length >= limit) return false;
    const firstPays = live.length !== 1 || live.every((m) => fits(m.load, req.backplaneCost, m.capacity));
    return firstPays && fits(n.load, req.cost + req.backplaneCost, n.capacity);
  });
}

function problemsOf(c: Case, d: PlacementDecision): string[] {
  const problems: string[] = [];
  const limit = c.req.maxMediaNodes ?? 3;
  const byName = new Map(c.snap.nodes.filter((n) => n.location === 'USA').map((n) => [n.name, n]));
  const live = c.snap.mediaNodes.filter((name) => byName.has(name));
  if (d.kind === 'reject') {
    if (someChoiceFits(c)) problems.push('rejected although an allowed choice fits');
    return problems;
  }
  const target = byName.get(d.node);
  if (d.mediaNodes.length > limit) problems.push(`R5: ${d.mediaNodes.length} media nodes`);
  if (target === undefined) return [...problems, `placed on ${d.node}, not a live node of the location`];
  if (target.state !== 'active' || c.req.exclude?.includes(d.node)) problems.push(`placed on ${target.state} or excluded ${d.node}`);
  const extra = d.backplaneCharges.includes(d.node) ? c.req.backplaneCost : 0;
  if (!fits(target.load, c.req.cost + extra, target.capacity)) problems.push(`${d.node} does not fit`);
  for (const name of d.backplaneCharges.filter((n) => n !== d.node)) {
    const n = byName.get(name);
    if (n === undefined || !fits(n.load, c.req.backplaneCost, n.capacity)) problems.push(`backplane overruns ${name}`);
  }
  if (d.mediaNodes.slice(0, live.length).join() !== live.join()) problems.push('R10: existing media nodes moved');
  if (!d.mediaNodes.includes(d.node)) problems.push('the chosen node is not in the list');
  return problems;
}

describe('decidePlacement() property (1000 seeded snapshots)', () => {
  it('R2-R5, R10: at most 3 media nodes, only fitting active non-excluded nodes, reject only when nothing fits, order-independent', () => {
    const rnd = seededRandom(20240610);
    const failures: string[] = [];
    const counts = { place: 0, reject: 0 };
    for (let i = 0; i < 1000; i++) {
      const c = randomCase(rnd);
      const d = decidePlacement(c.req, c.snap);
      counts[d.kind]++;
      const shuffled = { ...c.snap, nodes: [...c.snap.nodes].reverse() };
      const problems = problemsOf(c, d);
      if (JSON.stringify(decidePlacement(c.req, shuffled)) !== JSON.stringify(d)) problems.push('depends on node order');
      if (problems.length > 0) failures.push(`case ${i}: ${problems.join('; ')} :: ${JSON.stringify(c)} -> ${describeDecision(d)}`);
    }
    expect(failures.slice(0, 5)).toEqual([]);
    // The generator must exercise both outcomes, or the property proves little.
    expect(counts.place).toBeGreaterThan(200);
    expect(counts.reject).toBeGreaterThan(100);
  });
});
