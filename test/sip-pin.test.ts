/**
 * PIN entry with real peers: sipp keys the host PIN as RFC 4733 events (its shipped captures) and
 * is admitted as host; a caller keying a wrong PIN three times by SIP INFO is hung up (BYE).
 * Until admitted, a caller is outside the mix.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from './helpers/config';
import { NodeUnderTest } from './helpers/node-process';
import { freePortRange, freePorts } from './helpers/ports';
import { killAll, waitFor } from './helpers/proc';
import { assertSippOk, startSipp, whileSippRuns } from './helpers/sipp';
import { writeUlawToneWav } from './helpers/wav';

jest.setTimeout(60_000);

interface ParticipantWithRole {
  conference: string;
  role: string;
  packetsIn: number;
}

let node: NodeUnderTest;
const dir = makeTempDir('pin');

beforeAll(async () => {
  const [sipPort, httpPort, controlPort] = (await freePorts(3)) as [number, number, number];
  const rtp = await freePortRange(100);
  const path = join(dir, 'pin.yaml');
  writeFileSync(
    path,
    [
      'cluster: { name: test, secret: "test-secret-0123456789", store: memory }',
      'locations: [ { name: local } ]',
      'nodes:',
      `  - { name: n1, location: local, address: 127.0.0.1, sip_port: ${sipPort}, http_port: ${httpPort}, control_port: ${controlPort}, rtp_ports: { min: ${rtp.min}, max: ${rtp.max} }, capacity: 10 }`,
      'vmrs:',
      '  - { name: secret, aliases: [secret], host_pin: "1234", guest_pin: "5678" }',
      '',
    ].join('\n'),
  );
  node = await NodeUnderTest.start({ path, nodeName: 'n1', sipPort, httpPort, controlPort, rtp });
  writeUlawToneWav(join(dir, 'tone_pcmu.wav'), 440, 6);
});

afterAll(async () => {
  await node?.stop();
  await killAll();
});

describe('PIN entry', () => {
  it('a caller keying the host PIN 1234# by RFC 4733 events is admitted as host', async () => {
    const run = await startSipp({ scenario: 'uac_pin_rfc4733.xml', target: node.sipTarget, service: 'secret', cwd: dir, calls: 1, timeoutS: 30 });
    await whileSippRuns(run, 'PIN by RFC 4733', async () => {
      const waiting = await waitFor('caller in the room', async () => {
        const ps = await node.getJson<ParticipantWithRole[]>('/api/v1/participants');
        return ps.length === 1 ? ps[0] : undefined;
      }, 5000, 50);
      expect(waiting?.role).toBe('waiting-for-pin');
      const admitted = await waitFor('caller admitted as host', async () => {
        const ps = await node.getJson<ParticipantWithRole[]>('/api/v1/participants');
        return ps[0]?.role === 'host' ? ps[0] : undefined;
      }, 8000, 100);
      expect(admitted?.conference).toBe('secret');
    });
  });

  it('three wrong PINs by SIP INFO end the call with a BYE from the node', async () => {
    const run = await startSipp({ scenario: 'uac_pin_wrong_info.xml', target: node.sipTarget, service: 'secret', cwd: dir, calls: 1, timeoutS: 30 });
    assertSippOk(await run.done, 'wrong PIN three times');
    const log = await node.getJson<{ message: string }[]>('/api/v1/log');
    expect(log.map((e) => e.message)).toContain('Wrong PIN entered three times: call ended');
    expect(await node.getJson<unknown[]>('/api/v1/participants')).toEqual([]);
  });
});
