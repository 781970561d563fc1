/**
 * nodes[].public_address behind a real 1:1 NAT (issue 12 item 4): the node binds its private
 * address 10.82.0.11 in its own namespace; a router namespace does DNAT (public 10.82.1.1 -> the
 * node) and SNAT (the node's traffic leaves as 10.82.1.1) with nftables; a phone namespace at
 * 10.82.1.50 has a route to the public /24 only, so it reaches the node solely through the NAT.
 * No SIP ALG runs on the path. sipp dials the public address: the 200 OK's Contact and SDP `o=`
 * and `c=`, and the Via of the node's own BYE, name the public address (the private one appears in
 * nothing the phone received), RTP flows both ways through the NAT (the router's and the phone's
 * nftables counters, the node's packet counters), and the node's BYE reaches the phone.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from './helpers/config';
import { LabNode } from './helpers/netns-cluster';
import { NAT_NODE, NAT_PHONE, NatLab, type NatCounters } from './helpers/netns-nat';
import type { ParticipantView } from './helpers/node-process';
import { killAll, waitFor } from './helpers/proc';
import { sippArgs, sippLogs, whileSippRuns, type SippOptions, type SippRun } from './helpers/sipp';
import { requireTool } from './helpers/tools';
import { writeUlawToneWav } from './helpers/wav';

jest.setTimeout(90_000);

const ADMIN_TOKEN = 'nat-admin-token-0123456789';
const SIP_PORT = 5060;
const RTP_PORTS = { min: 40000, max: 40199 } as const;
const PHONE_PORTS = { sipPort: 6000, mediaPort: 20000, controlPort: 8900 } as const;

let dir: string;
let nat: NatLab | undefined;
let node: LabNode;

beforeAll(async () => {
  requireTool('sipp');
  dir = makeTempDir('nat-public-address');
  writeUlawToneWav(join(dir, 'tone_pcmu.wav'), 440, 10);
  nat = NatLab.create({ prefix: 'npa', privateSubnet: '10.82.0', publicSubnet: '10.82.1', sipPort: SIP_PORT, rtpPorts: RTP_PORTS, dir });
  // The admin API is read from the router's own side of the private network, never through the NAT.
  await nat.lab.startForwarder(nat.routerRole);
  const config = join(dir, 'nat.yaml');
  writeFileSync(
    config,
    [
      `cluster: { name: nat, secret: "nat-cluster-secret-0123456789", admin_token: "${ADMIN_TOKEN}", store: memory }`,
      'locations: [ { name: lab } ]',
      'nodes:',
      `  - { name: n1, location: lab, address: "${nat.nodeAddress}", public_address: "${nat.publicAddress}", sip_port: ${SIP_PORT}, http_port: 8080, ` +
        `control_port: 7070, rtp_ports: { min: ${RTP_PORTS.min}, max: ${RTP_PORTS.max} }, capacity: 10 }`,
      'media: { workers: 1 }',
      'vmrs: [ { name: meet, aliases: [meet] } ]',
      '',
    ].join('\n'),
  );
  node = await LabNode.start(nat.lab, { name: 'n1', role: NAT_NODE, location: 'lab', capacity: 10 }, config, ADMIN_TOKEN);
});

afterAll(async () => {
  await killAll();
  nat?.destroy();
});

/** sipp in the phone's namespace on the phone's address, dialing `target`, with its message trace. */
function phoneSipp(lab: NatLab, o: SippOptions): SippRun {
  const args = sippArgs(o, PHONE_PORTS);
  args[args.indexOf('-i') + 1] = lab.phoneAddress;
  args.push('-trace_msg', '-message_file', join(o.cwd, 'sipp-messages.log'));
  const proc = lab.spawn(NAT_PHONE, `sipp ${o.scenario} -> ${o.target}`, requireTool('sipp'), args, o.cwd);
  const done = proc.wait(((o.timeoutS ?? 30) + 10) * 1000).then(
    (exit) => ({ code: exit.code, ok: exit.code === 0, tail: `${proc.tail(2000)}\n${sippLogs(o.cwd, PHONE_PORTS.sipPort)}` }),
    (e: unknown) => ({ code: null, ok: false, tail: `${String(e)}\n${proc.tail(2000)}\n${sippLogs(o.cwd, PHONE_PORTS.sipPort)}` }),
  );
  return { proc, ...PHONE_PORTS, done };
}

/** The messages sipp received (its trace), each as its text from the start line on. */
function receivedMessages(): string[] {
  const text = readFileSync(join(dir, 'sipp-messages.log'), 'latin1');
  return text
    .split(/-{10,}[^\n]*\n/)
    .filter((b) => /message received/.test(b))
    .map((b) => b.replace(/^[^\n]*message received[^\n]*\n\s*/, ''));
}

function header(msg: string, name: string, compact: string): string[] {
  return msg.split(/\r?\n/).filter((l) => new RegExp(`^(${name}|${compact})\\s*:`, 'i').test(l));
}

describe('nodes[].public_address behind a 1:1 NAT (nftables DNAT + SNAT, phone on the public side only)', () => {
  it('the phone has no route to the private address, only to the public one; the node announces the public address in /api/v1/status', async () => {
    const lab = nat as NatLab;
    const toPrivate = lab.routeFrom(NAT_PHONE, lab.nodeAddress);
    expect({ ok: toPrivate.ok, text: toPrivate.text }).toEqual({ ok: false, text: expect.stringMatching(/unreachable/i) as string });
    expect(lab.routeFrom(NAT_PHONE, lab.publicAddress)).toMatchObject({ ok: true, text: expect.stringContaining('dev eth0') as string });
    const status = await node.getJson<{ sip: { address: string; port: number } }>('/api/v1/status');
    expect(status.sip).toMatchObject({ address: lab.publicAddress, port: SIP_PORT });
  });

  it('a sipp call to the public address: Contact, SDP and the node\'s BYE name the public address, RTP flows both ways through the NAT', async () => {
    const lab = nat as NatLab;
    const before = lab.counters();
    const run = phoneSipp(lab, { scenario: 'uac_wait_bye.xml', target: `${lab.publicAddress}:${SIP_PORT}`, service: 'meet', cwd: dir, timeoutS: 40 });
    let during: { participant: ParticipantView; counters: NatCounters } | undefined;
    await whileSippRuns(run, 'a call through the NAT, ended by the node', async () => {
      const participant = await waitFor(
        'the phone in meet with RTP both ways',
        async () => (await node.participants()).find((p) => p.conference === 'meet' && p.packetsIn >= 50 && p.packetsOut >= 50),
        15_000,
        200,
      );
      // One second of 20 ms packets each way through the NAT, and back out to the phone.
      const counters = await waitFor(
        'RTP through the NAT both ways',
        () => {
          const c = lab.counters();
          return c.rtpIn - before.rtpIn >= 50 && c.rtpOut - before.rtpOut >= 50 && c.phoneRtpIn - before.phoneRtpIn >= 50 ? c : undefined;
        },
        10_000,
        200,
      );
      during = { participant, counters };
      const res = await lab.lab.request(`${node.baseUrl}/api/v1/participants/${encodeURIComponent(participant.id)}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      expect(res.status).toBe(200);
    }).catch((e: unknown) => {
      throw new Error(`${e instanceof Error ? e.message : String(e)}\ncounters: ${JSON.stringify(lab.counters())}\n${lab.routerRuleset()}\n${node.proc.tail(3000)}`);
    });

    const got = during as { participant: ParticipantView; counters: NatCounters };
    // The node sees the phone's own address: the NAT rewrites only the node's side.
    expect(got.participant.remote).toMatchObject({ transport: 'udp', address: lab.phoneAddress, port: PHONE_PORTS.sipPort });
    const after = lab.counters();
    expect(after.sipIn - before.sipIn).toBeGreaterThanOrEqual(3); // INVITE, ACK, the 200 to the BYE
    expect(after.sipOut - before.sipOut).toBeGreaterThanOrEqual(2); // the 200 OK, the node's BYE

    const received = receivedMessages();
    const ok = received.find((m) => /^SIP\/2\.0 200 /.test(m) && header(m, 'CSeq', 'CSeq').some((l) => /\bINVITE\b/i.test(l)));
    const bye = received.find((m) => /^BYE /.test(m));
    if (!ok || !bye) throw new Error(`sipp received no 200 to its INVITE or no BYE:\n${received.join('\n====\n')}`);
    const pub = lab.publicAddress.replace(/\./g, '\\.');
    expect({
      contact: header(ok, 'Contact', 'm'),
      origin: ok.split(/\r?\n/).filter((l) => l.startsWith('o=')),
      connection: ok.split(/\r?\n/).filter((l) => l.startsWith('c=')),
      byeTopVia: header(bye, 'Via', 'v')[0],
      privateAddressSeen: received.filter((m) => m.includes(lab.nodeAddress)).map((m) => m.split(/\r?\n/)[0]),
    }).toEqual({
      contact: [expect.stringMatching(new RegExp(`^(Contact|m)\\s*:.*<sips?:[^>]*@?${pub}:${SIP_PORT}[;>]`, 'i')) as string],
      origin: [expect.stringMatching(new RegExp(` IN IP4 ${pub}$`)) as string],
      connection: [`c=IN IP4 ${lab.publicAddress}`],
      byeTopVia: expect.stringMatching(new RegExp(`^(Via|v)\\s*:\\s*SIP/2\\.0/UDP ${pub}:${SIP_PORT}\\b`, 'i')) as string,
      privateAddressSeen: [],
    });
    await waitFor('meet empty after the node hung up', async () => ((await node.participants()).length === 0 ? true : undefined), 5000, 100);
  });
});
