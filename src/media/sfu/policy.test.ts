import { asParticipantId } from '../../common';
import { forwardDecision, shouldForward, type ForwardDecision } from './policy';
import { LOCAL_MESH, type MediaKind, type SinkWants } from './types';

const [alice, bob] = [asParticipantId('alice'), asParticipantId('bob')];
const LINK_B = 'backplane:node-b';
const LINK_C = 'backplane:node-c';

describe('forwardDecision() (issue 10 seam 2; split horizon, DESIGN.md 6)', () => {
  const table: Array<[string, { owner: typeof alice; kind: MediaKind; meshTag: string }, SinkWants, ForwardDecision]> = [
    ["a local audio stream reaches another participant's audio sink", { owner: alice, kind: 'audio', meshTag: LOCAL_MESH }, { kind: 'audio', owner: bob, excludeMeshTag: undefined }, 'forward'],
    ['a sink wanting any kind takes video', { owner: alice, kind: 'video', meshTag: LOCAL_MESH }, { kind: 'any', owner: bob, excludeMeshTag: undefined }, 'forward'],
    ['an audio sink never gets video', { owner: alice, kind: 'video', meshTag: LOCAL_MESH }, { kind: 'audio', owner: bob, excludeMeshTag: undefined }, 'other-kind'],
    ["a participant's own sink never gets its own stream", { owner: alice, kind: 'audio', meshTag: LOCAL_MESH }, { kind: 'any', owner: alice, excludeMeshTag: undefined }, 'own-stream'],
    ['the conference sinks (no owner: mixer, switch) get everyone', { owner: alice, kind: 'audio', meshTag: LOCAL_MESH }, { kind: 'audio', owner: undefined, excludeMeshTag: undefined }, 'forward'],
    ['split horizon: a stream never goes back over the link it came in on', { owner: alice, kind: 'audio', meshTag: LINK_B }, { kind: 'any', owner: undefined, excludeMeshTag: LINK_B }, 'split-horizon'],
    ["a stream of link B goes out over link C (a proxy relays)", { owner: alice, kind: 'video', meshTag: LINK_B }, { kind: 'any', owner: undefined, excludeMeshTag: LINK_C }, 'forward'],
    ['a local stream goes out over every link', { owner: alice, kind: 'video', meshTag: LOCAL_MESH }, { kind: 'video', owner: undefined, excludeMeshTag: LINK_B }, 'forward'],
    ["a remote stream reaches local browsers", { owner: alice, kind: 'video', meshTag: LINK_B }, { kind: 'any', owner: bob, excludeMeshTag: undefined }, 'forward'],
    ['a local mesh: a stream of link B never goes out over link C (excluded by prefix)', { owner: alice, kind: 'audio', meshTag: LINK_B }, { kind: 'any', owner: undefined, excludeMeshTag: LINK_C, excludeMeshPrefix: 'backplane:' }, 'split-horizon'],
    ['a local stream still goes out over a link that excludes relayed ones', { owner: alice, kind: 'audio', meshTag: LOCAL_MESH }, { kind: 'any', owner: undefined, excludeMeshTag: LINK_C, excludeMeshPrefix: 'backplane:' }, 'forward'],
    ['kind is checked before owner and mesh tag', { owner: alice, kind: 'audio', meshTag: LINK_B }, { kind: 'video', owner: alice, excludeMeshTag: LINK_B }, 'other-kind'],
  ];

  it.each(table)('%s', (_what, source, sink, expected) => {
    expect(forwardDecision(source, sink)).toBe(expected);
    expect(shouldForward(source, sink)).toBe(expected === 'forward');
  });
});
