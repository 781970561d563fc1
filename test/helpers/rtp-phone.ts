/**
 * A plain SIP/RTP phone for cluster media tests: raw SIP INVITE over UDP with a PCMU offer, the
 * node's answer read for its media address (the media node's, when media is elsewhere), a PCMU tone
 * streamed to it every 20 ms, and what comes back decoded (G.711 u-law, bit-exact with the
 * reference) and kept for a Goertzel check. BYE at the end. Bounded in time; closes its sockets.
 */
import { createSocket, type Socket } from 'node:dgram';
import { buildRequest, newBranch, newDialogIds, sdpOffer, toTag, UdpSip, type DialogIds, type RawMessage } from './sip-raw';
import { freePort } from './ports';
import { linearToUlaw, sineSamples, ulawToLinear } from './wav';

export class TonePhone {
  private readonly received: number[] = [];
  private timer: NodeJS.Timeout | undefined;
  private seq = 0;
  private okMsg: RawMessage | undefined;

  private constructor(
    private readonly sip: UdpSip,
    private readonly rtp: Socket,
    readonly rtpPort: number,
    private readonly ids: DialogIds,
    private readonly sipPort: number,
    readonly mediaAddress: { address: string; port: number },
  ) {
    rtp.on('message', (buf) => {
      if (buf.length <= 12 || (buf[1] ?? 0) >= 200) return; // RTCP
      for (let i = 12; i < buf.length; i++) this.received.push(ulawToLinear(buf[i] ?? 0xff));
    });
  }

  /** Calls `user` at the node's SIP port; resolves once answered (throws with the status otherwise). */
  static async call(sipPort: number, user: string, freq: number): Promise<TonePhone> {
    const sip = await UdpSip.open();
    const rtpPort = await freePort();
    const rtp = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      rtp.once('error', reject);
      rtp.bind(rtpPort, '127.0.0.1', () => resolve());
    });
    const ids = newDialogIds();
    await sip.send(buildRequest({ method: 'INVITE', user, target: { port: sipPort }, local: { port: sip.port, transport: 'UDP' }, ids, body: sdpOffer(rtpPort) }), sipPort);
    const final = await sip.expect((m) => m.status >= 200, 10_000);
    if (final.status !== 200) {
      sip.close();
      rtp.close();
      throw new Error(`INVITE to ${user} answered ${final.status}`);
    }
    const body = final.body;
    const c = /c=IN IP4 (\S+)/.exec(body);
    const m = /m=audio (\d+)/.exec(body);
    if (!c?.[1] || !m?.[1]) throw new Error(`no media address in the answer:\n${body}`);
    await sip.send(buildRequest({ method: 'ACK', user, target: { port: sipPort }, local: { port: sip.port, transport: 'UDP' }, ids: { ...ids, branch: newBranch() }, toTag: toTag(final), cseqMethod: 'ACK' }), sipPort);
    const phone = new TonePhone(sip, rtp, rtpPort, ids, sipPort, { address: c[1], port: Number(m[1]) });
    phone.okMsg = final;
    phone.stream(freq);
    return phone;
  }

  /** Samples received in the last `ms` (8 kHz). */
  lastSamples(ms: number): Int16Array {
    const n = Math.min(this.received.length, (ms * 8) | 0);
    return Int16Array.from(this.received.slice(this.received.length - n));
  }

  get samplesReceived(): number {
    return this.received.length;
  }

  async hangUp(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const ok = this.okMsg;
    if (ok) {
      const bye = buildRequest({
        method: 'BYE',
        user: 'x',
        target: { port: this.sipPort },
        local: { port: this.sip.port, transport: 'UDP' },
        ids: { ...this.ids, branch: newBranch(), cseq: this.ids.cseq + 1 },
        toTag: toTag(ok),
      });
      await this.sip.send(bye, this.sipPort).catch(() => undefined);
      this.okMsg = undefined;
    }
    this.sip.close();
    try {
      this.rtp.close();
    } catch {
      // closed
    }
  }

  private stream(freq: number): void {
    const tone = sineSamples(freq, 1, 8000, 6000);
    const ssrc = (Math.random() * 0xffffffff) >>> 0;
    this.timer = setInterval(() => {
      const pkt = Buffer.alloc(12 + 160);
      pkt[0] = 0x80;
      pkt[1] = 0;
      pkt.writeUInt16BE(this.seq & 0xffff, 2);
      pkt.writeUInt32BE((this.seq * 160) >>> 0, 4);
      pkt.writeUInt32BE(ssrc, 8);
      for (let i = 0; i < 160; i++) pkt[12 + i] = linearToUlaw(tone[((this.seq * 160 + i) % 8000)] ?? 0);
      this.seq++;
      this.rtp.send(pkt, this.mediaAddress.port, this.mediaAddress.address);
    }, 20);
  }
}
