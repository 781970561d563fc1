/**
 * A phone on IPv6 (RFC 3264 `c=IN IP6`, SIP over `[::1]`): sipp calls a node whose address is ::1,
 * over UDP and over TCP. Both run inside a private network namespace (`unshare -n`, only `lo`), so
 * nothing leaves the test's own namespace. RTP goes both ways over the native socket I/O's IPv6
 * path: the node counts sipp's stream, and sipp echoes (`-rtp_echo`) every packet the node sends
 * back to it, where the node drops it as a foreign SSRC and counts it. Equal counts prove the
 * node's packets reached the phone.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, writeNodeConfig, type NodeConfig } from './helpers/config';
import { NODE_MAIN, REPO_ROOT, type ParticipantView } from './helpers/node-process';
import { describePlan, runInNetns, type PlanResult, type PlanStep } from './helpers/netns';
import { freePorts } from './helpers/ports';
import { killAll } from './helpers/proc';
import { sippArgs, sippLogs } from './helpers/sipp';
import { requireNetns, requireTool } from './helpers/tools';
import { writeUlawToneWav } from './helpers/wav';

jest.setTimeout(90_000);

const TRANSPORTS = [
  ['udp', 'u1'],
  ['tcp', 't1'],
] as const;

let dir: string;
let config: NodeConfig;
let result: PlanResult;
const sippPorts: number[] = [];

afterAll(async () => {
  await killAll();
});

function explain(): string {
  return `${describePlan(result)}\n${sippPorts.map((p) => sippLogs(dir, p)).join('\n')}\n(all files in ${dir})`;
}

beforeAll(async () => {
  requireTool('sipp');
  requireNetns();
  dir = makeTempDir('ipv6');
  config = await writeNodeConfig({ dir, address: '::1' });
  writeUlawToneWav(join(dir, 'tone_pcmu.wav'), 1000, 30);
  const http = `http://[::1]:${config.httpPort}`;
  const steps: PlanStep[] = [
    { op: 'start', id: 'node', cmd: process.execPath, args: [NODE_MAIN, '--config', config.path, '--node', config.nodeName], cwd: REPO_ROOT, logFile: join(dir, 'node.log') },
    { op: 'waitHttp', url: `${http}/healthz`, timeoutMs: 15000 },
  ];
  for (const [name, transport] of TRANSPORTS) {
    const [sipPort, mediaPort, controlPort] = (await freePorts(3)) as [number, number, number];
    sippPorts.push(sipPort);
    const args = sippArgs(
      { scenario: 'uac_call_rtp.xml', target: `[::1]:${config.sipPort}`, localIp: '::1', transport, service: 'meet', cwd: dir, pauseMs: 4000, timeoutS: 25, extraArgs: ['-rtp_echo'] },
      { sipPort, mediaPort, controlPort },
    );
    steps.push(
      { op: 'start', id: `sipp-${name}`, cmd: 'sipp', args, cwd: dir, logFile: join(dir, `sipp-${name}.log`) },
      { op: 'sleep', ms: 3000 },
      { op: 'fetchJson', url: `${http}/api/v1/participants`, key: name },
      { op: 'waitExit', id: `sipp-${name}`, timeoutMs: 20000 },
    );
  }
  steps.push({ op: 'signal', id: 'node', signal: 'SIGTERM' }, { op: 'waitExit', id: 'node', timeoutMs: 10000 });
  result = await runInNetns(dir, steps, 70_000);
}, 90_000);

test('both calls complete (sipp exits 0 over UDP and TCP) and the node exits 0 on SIGTERM', () => {
  const summary = { ok: result.ok, udp: result.procs['sipp-udp']?.code, tcp: result.procs['sipp-tcp']?.code, node: result.procs.node?.code };
  if (!result.ok || summary.udp !== 0 || summary.tcp !== 0 || summary.node !== 0) throw new Error(`${JSON.stringify(summary)}\n${explain()}`);
  expect(readFileSync(join(dir, 'node.log'), 'utf8')).toContain('"rtpIo":"native"');
});

test.each(TRANSPORTS)('over %s: the node lists the phone at ::1 and RTP flows both ways over IPv6', (name) => {
  const parts = (result.fetched[name] ?? []) as ParticipantView[];
  const p = parts.find((x) => x.conference === 'meet');
  if (!p) throw new Error(`no participant in meet during the ${name} call: ${JSON.stringify(parts)}\n${explain()}`);
  expect(p.remote).toMatchObject({ transport: name, address: '::1' });
  expect(p.audioCodec).toMatch(/pcmu/i);
  expect(p.packetsIn).toBeGreaterThan(50);
  expect(p.packetsOut).toBeGreaterThan(50);
  // sipp's echo of what the node sent, dropped as a foreign SSRC: at most the few in flight are missing.
  expect(p.packetsDropped ?? 0).toBeGreaterThan(p.packetsOut - 10);
});
