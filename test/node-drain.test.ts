/**
 * SIGTERM drains (issue 10, node lifecycle): with nodes[].drain_timeout_s the node leaves placement
 * at once (/healthz 503 draining), refuses new calls with 503 + Retry-After, keeps its calls until
 * they end, and exits as soon as the last one has: nobody is cut off mid-sentence by a restart.
 */
import { join } from 'node:path';
import { makeTempDir, writeNodeConfig } from './helpers/config';
import { NodeUnderTest } from './helpers/node-process';
import { killAll, waitFor } from './helpers/proc';
import { assertSippOk, runSipp, startSipp } from './helpers/sipp';
import { requireTool } from './helpers/tools';
import { writeUlawToneWav } from './helpers/wav';

jest.setTimeout(60_000);

afterAll(async () => {
  await killAll();
});

describe('SIGTERM with drain_timeout_s', () => {
  it('keeps the established call until it ends, refuses new calls (503), /healthz says draining, then exits 0', async () => {
    requireTool('sipp');
    const dir = makeTempDir('drain');
    writeUlawToneWav(join(dir, 'tone_pcmu.wav'), 440, 20);
    const node = await NodeUnderTest.start(await writeNodeConfig({ dir, drainTimeoutS: 30 }));
    // A call that hangs up by itself (BYE from sipp) 6 s after it starts.
    const call = await startSipp({ scenario: 'uac_call_rtp.xml', target: node.sipTarget, service: 'meet', cwd: dir, pauseMs: 6000 });
    await waitFor('the call to have media', async () => (await node.participants()).find((p) => p.packetsIn > 0 && p.packetsOut > 0), 8000, 200);

    const started = Date.now();
    node.proc.kill('SIGTERM');
    await waitFor(
      '/healthz 503 draining',
      async () => {
        const res = await fetch(`${node.baseUrl}/healthz`, { signal: AbortSignal.timeout(2000) });
        return res.status === 503 && ((await res.json()) as { status: string }).status === 'draining' ? true : undefined;
      },
      3000,
      100,
    );
    const refused = await runSipp({ scenario: 'uac_reject_503.xml', target: node.sipTarget, service: 'meet', cwd: dir });
    assertSippOk(refused, 'a new call to a draining node must get 503 with Retry-After');
    expect(node.alive).toBe(true); // the first call still runs

    const done = await call.proc.wait(20_000);
    expect(done.code).toBe(0); // sipp ended its call with its own BYE: the node never cut it
    const exit = await node.proc.wait(10_000);
    expect(exit.code).toBe(0);
    expect(Date.now() - started).toBeLessThan(25_000); // it left when the call ended, not at the timeout
  });
});
