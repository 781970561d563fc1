/**
 * Janus AudioBridge as a target of the mixer bench: makes sure the Debian package is there
 * (bench/janus/ensure-janus.sh), writes a config of its own into the run's temp dir, starts
 * `janus -C <dir>/janus.jcfg -F <dir>` on loopback ports, waits for its HTTP API and creates the
 * bench's rooms through it. Stops only the process it started, by PID.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Proc, waitFor } from '../../test/helpers/proc';
import { createRoomBody, parseCreated, type JanusRoomSettings } from './janus-api';
import { JanusSession } from './janus-client';
import { janusConfigFiles, janusFolderCandidates, type JanusFolders } from './janus-config';

/** Where bench/janus/ensure-janus.sh lives relative to the repository root. */
export const ENSURE_JANUS_SCRIPT = join('bench', 'janus', 'ensure-janus.sh');

/**
 * Installs Janus when missing (root only; bench, never scripts/test): `{ ok, message }` from the
 * script's one line. Bounded: apt-get gets 10 minutes.
 */
export function ensureJanus(repoRoot: string): { ok: boolean; message: string } {
  const r = spawnSync('bash', [join(repoRoot, ENSURE_JANUS_SCRIPT)], { encoding: 'utf8', timeout: 600_000 });
  const message = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-3).join(' / ') || (r.error?.message ?? 'no output');
  return { ok: r.status === 0, message };
}

function multiarch(): string {
  return process.arch === 'arm64' ? 'aarch64-linux-gnu' : process.arch === 'arm' ? 'arm-linux-gnueabihf' : 'x86_64-linux-gnu';
}

/** The install's module folders: the first candidate that has the AudioBridge plugin. */
export function findJanusFolders(): JanusFolders {
  for (const f of janusFolderCandidates(multiarch())) if (existsSync(join(f.plugins, 'libjanus_audiobridge.so'))) return f;
  throw new Error('janus AudioBridge plugin not found (Debian: apt-get install janus)');
}

export interface JanusInstance {
  proc: Proc;
  /** HTTP API base, e.g. http://127.0.0.1:8088/janus */
  url: string;
  /** Janus room ids are 1..rooms (bench alias roomK is Janus room K). */
  rooms: number;
  stop(): Promise<void>;
}

export interface JanusStartOptions {
  dir: string;
  httpPort: number;
  rtp: { min: number; max: number };
  rooms: number;
  room: JanusRoomSettings;
}

/** Starts Janus and creates rooms 1..rooms; on any failure stops what it started and throws. */
export async function startJanus(o: JanusStartOptions): Promise<JanusInstance> {
  const folders = findJanusFolders();
  for (const [name, text] of Object.entries(janusConfigFiles({ configDir: o.dir, folders, httpPort: o.httpPort, rtp: o.rtp }))) {
    writeFileSync(join(o.dir, name), text);
  }
  const url = `http://127.0.0.1:${o.httpPort}/janus`;
  // -o: no colours in the log lines the Proc keeps (debug_level 3: warnings and errors only).
  const proc = new Proc('janus', 'janus', ['-C', join(o.dir, 'janus.jcfg'), '-F', o.dir, '-o'], { cwd: o.dir });
  try {
    await waitFor(
      'janus HTTP API',
      async () => {
        if (proc.exit) throw new Error(`janus exited: ${JSON.stringify(proc.exit)}`);
        try {
          const res = await fetch(url, {
            method: 'POST',
            body: JSON.stringify({ janus: 'info', transaction: 'bench-info' }),
            signal: AbortSignal.timeout(1000),
          });
          return res.status === 200 ? true : undefined;
        } catch {
          return undefined;
        }
      },
      20_000,
    );
    await createRooms(url, o.rooms, o.room);
  } catch (e) {
    await proc.stop(2000);
    throw new Error(`${e instanceof Error ? e.message : String(e)}\n${proc.tail(2000)}`);
  }
  return { proc, url, rooms: o.rooms, stop: () => proc.stop(5000).then(() => undefined) };
}

async function createRooms(url: string, rooms: number, settings: JanusRoomSettings): Promise<void> {
  const session = await JanusSession.create(url);
  try {
    const handle = await session.attach();
    for (let room = 1; room <= rooms; room++) {
      const r = parseCreated(await session.request(handle, createRoomBody(room, settings)));
      if (!r.ok) throw new Error(`janus create room ${room}: ${r.reason}`);
    }
  } finally {
    await session.destroy();
  }
}
