/**
 * SDES-SRTP when a SIP call's media is on another node (R1/R2): the signaling node negotiates the
 * keys, and they reach the media node over the control channel sealed (the channel authenticates
 * but does not encrypt: src/node/cluster-node/srtp-seal.ts). Two SRTP phones call the signaling
 * node; their media lands on the roomier node; each decrypts the other's tone with the key of its
 * answer, and the media node decrypts theirs. Raw SIP and RTP on loopback, a real etcd.
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { SrtpContext } from '../src/media/rtp/srtp';
import { decodeSdesKey } from '../src/media/rtp/sdes';
import { startCluster, writeClusterConfig } from './helpers/cluster';
import { makeTempDir } from './helpers/config';
import { EtcdServer } from './helpers/etcd';
import type { NodeUnderTest, ParticipantView } from './helpers/node-process';
import { freePort } from './helpers/ports';
import { killAll, sleep, waitFor } from './helpers/proc';
import { UdpSip, buildRequest, newBranch, newDialogIds, sdpOffer, toTag, type DialogIds, type RawMessage } from './helpers/sip-raw';
import { toneReport } from './helpers/tone';
import { linearToUlaw, sineSamples, ulawToLinear } from './helpers/wav';

jest.setTimeout(90_000);

/** A PCMU phone that offers RTP/SAVP with its own key and rtcp-mux, and speaks SRTP with the answer's key. */
class SrtpTonePhone {
  readonly samples: number[] = [];
  refused = 0;
  srtcpIn = 0;
  private timer: NodeJS.Timeout | undefined;
  private seq = 0;

  private constructor(
    private readonly sip: UdpSip,
    private readonly rtp: Socket,
    private readonly ids: DialogIds,
    private readonly sipPort: number,
    private readonly ok: RawMessage,
    private readonly tx: SrtpContext,
    private readonly rx: SrtpContext,
    readonly media: { address: string; port: number },
  ) {
    rtp.on('message', (buf) => this.onPacket(buf));
  }

  static async call(sipPort: number, user: string, freq: number): Promise<SrtpTonePhone> {
    const sip = await UdpSip.open();
    const rtpPort = await freePort();
    const rtp = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      rtp.once('error', reject);
      rtp.bind(rtpPort, '127.0.0.1', () => resolve());
    });
    const ourKey = randomBytes(30).toString('base64');
    const offer = sdpOffer(rtpPort)
      .replace('RTP/AVP', 'RTP/SAVP')
      .replace('a=sendrecv', `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${ourKey}\r\na=rtcp-mux\r\na=sendrecv`);
    const ids = newDialogIds();
    const local = { port: sip.port, transport: 'UDP' as const };
    await sip.send(buildRequest({ method: 'INVITE', user, target: { port: sipPort }, local, ids, body: offer }), sipPort);
    const final = await sip.expect((m) => m.status >= 200, 10_000);
    if (final.status !== 200) throw new Error(`INVITE answered ${final.status}`);
    const body = final.body;
    const c = /c=IN IP4 (\S+)/.exec(body)?.[1];
    const m = /m=audio (\d+) RTP\/SAVP/.exec(body)?.[1];
    const theirKey = /a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:(\S{40})/.exec(body)?.[1];
    if (!c || !m || !theirKey) throw new Error(`not an SRTP answer:\n${body}`);
    await sip.send(buildRequest({ method: 'ACK', user, target: { port: sipPort }, local, ids: { ...ids, branch: newBranch() }, toTag: toTag(final), cseqMethod: 'ACK' }), sipPort);
    const phone = new SrtpTonePhone(
      sip, rtp, ids, sipPort, final,
      new SrtpContext(decodeSdesKey(ourKey, 'ours')),
      new SrtpContext(decodeSdesKey(theirKey, 'theirs')),
      { address: c, port: Number(m) },
    );
    phone.stream(freq);
    return phone;
  }

  lastSamples(ms: number): Int16Array {
    const n = Math.min(this.samples.length, ms * 8);
    return Int16Array.from(this.samples.slice(this.samples.length - n));
  }

  async hangUp(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const bye = buildRequest({
      method: 'BYE', user: 'x', target: { port: this.sipPort }, local: { port: this.sip.port, transport: 'UDP' },
      ids: { ...this.ids, branch: newBranch(), cseq: this.ids.cseq + 1 }, toTag: toTag(this.ok),
    });
    await this.sip.send(bye, this.sipPort).catch(() => undefined);
    this.sip.close();
    this.rtp.close();
  }

  private onPacket(buf: Buffer): void {
    const pt = buf[1] ?? 0;
    if (pt >= 192 && pt <= 223) {
      if (typeof this.rx.unprotectRtcp(buf) === 'string') this.refused++;
      else this.srtcpIn++;
      return;
    }
    const plain = this.rx.unprotectRtp(buf);
    if (typeof plain === 'string') {
      this.refused++;
      return;
    }
    for (let i = 12; i < plain.length; i++) this.samples.push(ulawToLinear(plain[i] ?? 0xff));
  }

  private stream(freq: number): void {
    const tone = sineSamples(freq, 1, 8000, 6000);
    const ssrc = randomBytes(4).readUInt32BE(0);
    this.timer = setInterval(() => {
      const pkt = Buffer.alloc(12 + 160);
      pkt[0] = 0x80;
      pkt.writeUInt16BE(this.seq & 0xffff, 2);
      pkt.writeUInt32BE((this.seq * 160) >>> 0, 4);
      pkt.writeUInt32BE(ssrc, 8);
      for (let i = 0; i < 160; i++) pkt[12 + i] = linearToUlaw(tone[(this.seq * 160 + i) % 8000] ?? 0);
      this.seq++;
      this.rtp.send(this.tx.protectRtp(pkt), this.media.port, this.media.address);
    }, 20);
  }
}

let etcd: EtcdServer | undefined;
const phones: SrtpTonePhone[] = [];

afterAll(async () => {
  for (const p of phones) await p.hangUp().catch(() => undefined);
  await killAll();
  await etcd?.destroy();
});

test('SRTP calls signaled on one node with media on another: keys reach the media node sealed, and each phone decrypts the other\'s tone', async () => {
  const dir = makeTempDir('srtp-cluster');
  etcd = await EtcdServer.start(dir);
  const configs = await writeClusterConfig({
    dir,
    etcdEndpoint: etcd.endpoint,
    // R2: media goes to the node with the most room, so the roomy node carries the calls the small one signals.
    nodes: [
      { name: 'sig', location: 'here', capacity: 1 },
      { name: 'media', location: 'here', capacity: 20 },
    ],
    vmrs: [{ name: 'meet', aliases: ['meet'] }],
  });
  const [sig] = (await startCluster(configs)) as [NodeUnderTest, NodeUnderTest];
  const a = await SrtpTonePhone.call(sig.config.sipPort, 'meet', 440);
  phones.push(a);
  const b = await SrtpTonePhone.call(sig.config.sipPort, 'meet', 1000);
  phones.push(b);

  const parts = await waitFor(
    'both participants with SRTP media both ways on the media node',
    async () => {
      const list = (await sig.participants()).filter((p) => p.conference === 'meet');
      return list.length === 2 && list.every((p) => p.packetsIn > 50 && p.packetsOut > 50) ? list : undefined;
    },
    15_000,
    200,
  );
  await sleep(1000);
  const where = parts.map((p: ParticipantView) => ({ signaling: p.signalingNode, media: p.mediaNode, dropped: p.packetsDropped ?? 0 }));
  expect(where).toEqual([
    { signaling: 'sig', media: 'media', dropped: 0 },
    { signaling: 'sig', media: 'media', dropped: 0 },
  ]);
  expect(a.media.port).toBeGreaterThanOrEqual(configs[1]?.rtp.min ?? 0); // the answer points at the media node
  expect(a.media.port).toBeLessThanOrEqual(configs[1]?.rtp.max ?? 0);

  const heardByA = toneReport(a.lastSamples(1000), 8000, [440, 1000]);
  const heardByB = toneReport(b.lastSamples(1000), 8000, [440, 1000]);
  expect({ a: heardByA.dominant, b: heardByB.dominant, refusedA: a.refused, refusedB: b.refused }).toEqual({ a: expect.closeTo(1000, -2), b: expect.closeTo(440, -2), refusedA: 0, refusedB: 0 });
  expect((heardByA.power[1000] ?? 0) > 1000 * (heardByA.power[440] ?? 0)).toBe(true);
  expect((heardByB.power[440] ?? 0) > 1000 * (heardByB.power[1000] ?? 0)).toBe(true);
});
