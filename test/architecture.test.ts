/**
 * The dependency rules of DESIGN.md section 3, checked on every run: folder direction, imports
 * across folders only through index.ts, one seam per heavy dependency, and no import cycles.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

const SRC = path.resolve(__dirname, '..', 'src');

interface Edge {
  from: string; // path relative to src
  to: string; // resolved path relative to src, or a package name
  typeOnly: boolean;
}

function listTs(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...listTs(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

function resolveLocal(fromFile: string, spec: string): string | undefined {
  const base = path.resolve(path.dirname(fromFile), spec);
  for (const cand of [base + '.ts', path.join(base, 'index.ts')]) {
    if (fs.existsSync(cand)) return path.relative(SRC, cand);
  }
  return undefined;
}

function importsOf(file: string): Edge[] {
  const text = fs.readFileSync(file, 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, false);
  const rel = path.relative(SRC, file);
  const edges: Edge[] = [];
  const add = (spec: string, typeOnly: boolean): void => {
    if (spec.startsWith('.')) {
      const to = resolveLocal(file, spec);
      edges.push({ from: rel, to: to ?? `UNRESOLVED:${spec}`, typeOnly });
    } else {
      edges.push({ from: rel, to: spec, typeOnly });
    }
  };
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const typeOnly = ts.isImportDeclaration(node) ? Boolean(node.importClause?.isTypeOnly) : node.isTypeOnly;
      add(node.moduleSpecifier.text, typeOnly);
    } else if (ts.isCallExpression(node) && node.arguments.length === 1) {
      const arg = node.arguments[0];
      const isRequire = ts.isIdentifier(node.expression) && node.expression.text === 'require';
      const isDynamic = node.expression.kind === ts.SyntaxKind.ImportKeyword;
      if ((isRequire || isDynamic) && arg && ts.isStringLiteral(arg)) add(arg.text, false);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return edges;
}

const files = listTs(SRC).filter((f) => !f.endsWith('.test.ts'));
const edges = files.flatMap(importsOf);
const folderOf = (rel: string): string => rel.split(path.sep)[0] ?? '';

/** Which top-level folders each folder may import (DESIGN.md section 3). */
const ALLOWED: Record<string, string[]> = {
  common: [],
  media: ['common'],
  backplane: ['common', 'media'],
  signaling: ['common', 'media'],
  node: ['common', 'media', 'backplane', 'signaling'],
  bench: ['common', 'media', 'signaling', 'node', 'backplane'],
};

/** Packages that may be imported only from one place. */
const SEAMS: Array<{ pkg: RegExp; allowed: RegExp; why: string }> = [
  { pkg: /^werift(\/|$)/, allowed: /^media\/werift\//, why: 'werift only under media/werift/' },
  { pkg: /^etcd3$/, allowed: /^node\/cluster\/etcd/, why: 'etcd3 only in the etcd store' },
  { pkg: /^ws$/, allowed: /(^|\/)ws[-a-z]*\.ts$|\/websocket/, why: 'ws only in WebSocket adapters' },
  { pkg: /^prom-client$/, allowed: /^node\/http\//, why: 'prom-client only in node/http/' },
  { pkg: /^pino$/, allowed: /^node\/logging\.ts$/, why: 'pino only in node/logging.ts' },
  { pkg: /^@discordjs\/opus$/, allowed: /^media\/codecs\/opus\.ts$/, why: 'the Opus binding only in media/codecs/opus.ts' },
];

describe('architecture (DESIGN.md section 3)', () => {
  it('every relative import resolves to a source file', () => {
    expect(edges.filter((e) => e.to.startsWith('UNRESOLVED:'))).toEqual([]);
  });

  it('folders import only the folders below them', () => {
    const bad = edges
      .filter((e) => !e.to.startsWith('UNRESOLVED:') && e.to.endsWith('.ts'))
      .filter((e) => folderOf(e.from) !== folderOf(e.to))
      .filter((e) => {
        const allowed = ALLOWED[folderOf(e.from)] ?? [];
        if (!allowed.includes(folderOf(e.to))) return true;
        // signaling may use media's types, never its runtime.
        return folderOf(e.from) === 'signaling' && folderOf(e.to) === 'media' && !e.typeOnly;
      })
      .map((e) => `${e.from} -> ${e.to}`);
    expect(bad).toEqual([]);
  });

  it('other folders import a folder only through its index.ts', () => {
    const bad = edges
      .filter((e) => e.to.endsWith('.ts') && folderOf(e.from) !== folderOf(e.to))
      .filter((e) => e.to !== path.join(folderOf(e.to), 'index.ts'))
      .map((e) => `${e.from} -> ${e.to}`);
    expect(bad).toEqual([]);
  });

  it('one seam per heavy dependency', () => {
    const bad = edges
      .filter((e) => !e.to.endsWith('.ts'))
      .flatMap((e) => SEAMS.filter((s) => s.pkg.test(e.to) && !s.allowed.test(e.from.split(path.sep).join('/'))).map((s) => `${e.from}: ${s.why}`));
    expect(bad).toEqual([]);
  });

  it('has no import cycles (type-only imports excepted)', () => {
    const graph = new Map<string, string[]>();
    for (const e of edges) {
      if (e.typeOnly || !e.to.endsWith('.ts')) continue;
      graph.set(e.from, [...(graph.get(e.from) ?? []), e.to]);
    }
    const cycles: string[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const stack: string[] = [];
    const dfs = (n: string): void => {
      state.set(n, 'visiting');
      stack.push(n);
      for (const m of graph.get(n) ?? []) {
        if (state.get(m) === 'visiting') cycles.push([...stack.slice(stack.indexOf(m)), m].join(' -> '));
        else if (!state.has(m)) dfs(m);
      }
      stack.pop();
      state.set(n, 'done');
    };
    for (const n of graph.keys()) if (!state.has(n)) dfs(n);
    expect(cycles).toEqual([]);
  });

  it('pure policy modules use no clock, randomness or environment of their own', () => {
    const PURE = /^(signaling\/sdp\/(negotiate|build)|signaling\/sip\/(parser|uri|headers|serializer)|media\/active-speaker|media\/sfu\/policy|node\/placement\/[a-z-]+|node\/control\/(auth|frames|backoff))\.ts$/;
    const bad = files
      .filter((f) => PURE.test(path.relative(SRC, f).split(path.sep).join('/')))
      .filter((f) => /Date\.now\(|Math\.random\(|process\.env/.test(fs.readFileSync(f, 'utf8')))
      .map((f) => path.relative(SRC, f));
    expect(bad).toEqual([]);
  });
});
