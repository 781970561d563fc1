/**
 * The operator's first five minutes: on a fresh clone, `scripts/start` (no arguments) installs,
 * builds and runs a node that a sipp call to sip:meet@127.0.0.1:5060 joins; and the Dockerfile's
 * build-stage RUN steps, run in order on a fresh copy, give a pruned runtime tree that starts.
 * (No Docker engine runs here, so the Dockerfile's steps are executed directly.)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, writeNodeConfig } from './helpers/config';
import { REPO_ROOT } from './helpers/node-process';
import { Proc, killAll, waitFor } from './helpers/proc';
import { assertSippOk, runSipp } from './helpers/sipp';
import { writeUlawToneWav } from './helpers/wav';

jest.setTimeout(600_000);

/** The tracked files of the working tree (what a clone of this commit holds, plus local edits). */
function copyTrackedTree(dest: string): void {
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: REPO_ROOT })
    .toString('utf8')
    .split('\0')
    .filter((f) => f !== '' && existsSync(join(REPO_ROOT, f)));
  for (const f of files) {
    mkdirSync(join(dest, f, '..'), { recursive: true });
    cpSync(join(REPO_ROOT, f), join(dest, f));
  }
}

/** The RUN lines of the Dockerfile's build stage, without the apt-get line (the host has the toolchain). */
function dockerBuildSteps(dockerfile: string): string[] {
  const buildStage = dockerfile.split(/^FROM /m)[1] ?? '';
  return buildStage
    .split('\n')
    .filter((l) => l.startsWith('RUN '))
    .map((l) => l.slice(4).trim())
    .filter((cmd) => !cmd.startsWith('apt-get'));
}

afterAll(async () => {
  await killAll();
});

describe('fresh clone', () => {
  const dir = makeTempDir('fresh');
  const clone = join(dir, 'confnode');

  beforeAll(() => {
    mkdirSync(clone);
    copyTrackedTree(clone);
  });

  it('scripts/start with no arguments brings up a node that a sipp call to sip:meet@127.0.0.1:5060 joins', async () => {
    expect(existsSync(join(clone, 'node_modules'))).toBe(false);
    const node = new Proc('scripts/start', join(clone, 'scripts', 'start'), [], { cwd: clone });
    try {
      await waitFor(
        'fresh node /healthz on 127.0.0.1:8080',
        async () => {
          if (node.exit) throw new Error(`scripts/start exited: ${JSON.stringify(node.exit)}\n${node.tail()}`);
          const res = await fetch('http://127.0.0.1:8080/healthz').catch(() => undefined);
          return res?.status === 200 ? true : undefined;
        },
        300_000,
        500,
      );
      expect(node.stdout).toContain('sip:meet@127.0.0.1:5060');
      // scripts/start built the batched RTP I/O addon and the node uses it.
      expect(node.stdout).toContain('"rtpIo":"native"');
      writeUlawToneWav(join(dir, 'tone_pcmu.wav'), 440, 6);
      const r = await runSipp({ scenario: 'uac_call_rtp.xml', target: '127.0.0.1:5060', service: 'meet', cwd: dir, calls: 1, pauseMs: 2000, timeoutS: 30 });
      assertSippOk(r, 'call to sip:meet@127.0.0.1:5060 on the fresh node');
    } finally {
      node.kill('SIGTERM');
      await node.wait(15_000).catch(() => node.stop(2000));
    }
    expect(node.exit?.code).toBe(0);
  });

  it("the Dockerfile's build steps (npm ci, tsc, npm prune) give a runtime tree without dev dependencies that starts", async () => {
    const steps = dockerBuildSteps(readFileSync(join(clone, 'Dockerfile'), 'utf8'));
    expect(steps).toEqual(expect.arrayContaining([expect.stringMatching(/^npm ci/), expect.stringMatching(/tsc -p tsconfig.build.json/)]));
    const app = join(dir, 'app');
    mkdirSync(app);
    for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src', 'web', 'examples', 'native']) {
      cpSync(join(clone, f), join(app, f), { recursive: true });
    }
    for (const step of steps) {
      const r = spawnSync('bash', ['-c', step], { cwd: app, encoding: 'utf8', timeout: 400_000 });
      if (r.status !== 0) throw new Error(`Dockerfile step failed: ${step}\n${r.stdout}\n${r.stderr}`);
    }
    expect(existsSync(join(app, 'dist', 'node', 'main.js'))).toBe(true);
    expect(existsSync(join(app, 'node_modules', 'typescript'))).toBe(false);
    expect(existsSync(join(app, 'node_modules', '@discordjs', 'opus'))).toBe(true);
    expect(existsSync(join(app, 'native', 'rtpio', 'build', 'Release', 'rtpio.node'))).toBe(true);

    const cfg = await writeNodeConfig({ dir });
    const node = new Proc('docker runtime node', process.execPath, ['dist/node/main.js', '--config', cfg.path, '--node', cfg.nodeName], { cwd: app });
    try {
      await waitFor(
        'runtime node /healthz',
        async () => {
          if (node.exit) throw new Error(`node exited: ${JSON.stringify(node.exit)}\n${node.tail()}`);
          const res = await fetch(`http://127.0.0.1:${cfg.httpPort}/healthz`).catch(() => undefined);
          return res?.status === 200 ? true : undefined;
        },
        30_000,
        200,
      );
    } finally {
      await node.stop(3000);
    }
  });
});
