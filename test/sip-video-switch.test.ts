/**
 * Voice-switched video for SIP endpoints (issue 3 item 4), seen from inside the stream a SIP
 * endpoint receives: two SIP talkers with audio and H.264 video (a real capture) take turns,
 * a third SIP endpoint watches. Its video keeps one SSRC, sequence numbers never skip (at the
 * switch either), timestamps run forward, and after the talker changes a keyframe of the new
 * speaker reaches it within 1 s (asked for with a PLI). An endpoint offering another video codec
 * gets audio only and the API says why.
 */
import { makeTempDir, writeNodeConfig } from './helpers/config';
import { AvPhone } from './helpers/av-phone';
import { NodeUnderTest } from './helpers/node-process';
import { killAll, sleep, waitFor } from './helpers/proc';

jest.setTimeout(60_000);

interface ParticipantJson {
  id: string;
  displayName: string;
  conference: string;
  videoCodec?: string;
  videoUnavailableReason?: string;
  videoShowing?: string;
  currentSpeaker: boolean;
}

let node: NodeUnderTest;
const phones: AvPhone[] = [];

beforeAll(async () => {
  const dir = makeTempDir('video-switch');
  const cfg = await writeNodeConfig({ dir, vmrs: [{ name: 'meet', aliases: ['meet'], videoCodec: 'H264' }, { name: 'vp8room', aliases: ['vp8room'], videoCodec: 'VP8' }] });
  node = await NodeUnderTest.start(cfg);
});

afterAll(async () => {
  for (const p of phones) p.close();
  await node?.stop();
  await killAll();
});

async function participants(): Promise<ParticipantJson[]> {
  return node.getJson<ParticipantJson[]>('/api/v1/participants');
}

describe('voice-switched video for SIP endpoints', () => {
  it('one SSRC, no sequence gap at the switch, and the new speaker keyframe within 1 s', async () => {
    const sipPort = node.config.sipPort;
    // A talks for the first 3 s, B from 4.5 s on; both always send video; R only watches.
    const a = await AvPhone.call({ sipPort, alias: 'meet', toneHz: 440, talking: (ms) => ms < 3000, sendVideo: true, videoTag: 0xa1 });
    phones.push(a);
    const b = await AvPhone.call({ sipPort, alias: 'meet', toneHz: 1000, talking: (ms) => ms > 4500, sendVideo: true, videoTag: 0xb2 });
    phones.push(b);
    const r = await AvPhone.call({ sipPort, alias: 'meet', toneHz: 700, talking: () => false, sendVideo: false });
    phones.push(r);
    expect([a.videoAnswered, b.videoAnswered, r.videoAnswered]).toEqual([true, true, true]);

    const ps = await participants();
    expect(ps.map((p) => p.videoCodec)).toEqual(['H264', 'H264', 'H264']);
    const [idA, idB, idR] = ps.map((p) => p.id) as [string, string, string];
    const showing = async (): Promise<string | undefined> => (await participants()).find((p) => p.id === idR)?.videoShowing;

    await waitFor('R is shown A while A talks', async () => ((await showing()) === idA ? true : undefined), 6000, 50);
    const speakerBAt = await waitFor(
      'B becomes the active speaker',
      async () => ((await participants()).find((p) => p.id === idB)?.currentSpeaker ? performance.now() : undefined),
      10000,
      20,
    );
    await waitFor('R is shown B', async () => ((await showing()) === idB ? true : undefined), 3000, 50);
    await sleep(1000);

    const v = r.video;
    expect(v.length).toBeGreaterThan(30);
    // One SSRC for the whole call.
    expect(new Set(v.map((p) => p.ssrc)).size).toBe(1);
    // Sequence numbers step by exactly one (loopback loses nothing), across the switch too.
    const gaps = v.slice(1).filter((p, i) => ((p.sequence - (v[i]?.sequence ?? 0)) & 0xffff) !== 1);
    expect(gaps).toEqual([]);
    // Timestamps never go backwards.
    const back = v.slice(1).filter((p, i) => ((p.timestamp - (v[i]?.timestamp ?? 0)) | 0) < 0);
    expect(back).toEqual([]);
    // A's video, then from one packet on B's: the first packet of B is a keyframe, within 1 s.
    const firstB = v.findIndex((p) => p.tag === 0xb2);
    expect(firstB).toBeGreaterThan(0);
    expect(v.slice(0, firstB).every((p) => p.tag === 0xa1)).toBe(true);
    expect(v.slice(firstB).every((p) => p.tag === 0xb2)).toBe(true);
    const switchPacket = v[firstB];
    expect(switchPacket?.keyframe).toBe(true);
    expect((switchPacket?.at ?? Infinity) - speakerBAt).toBeLessThan(1000);
    expect(b.keyframeRequests).toBeGreaterThanOrEqual(1);
  });

  it('an endpoint offering only another video codec gets audio only, and the API says why', async () => {
    const phone = await AvPhone.call({ sipPort: node.config.sipPort, alias: 'vp8room', toneHz: 440, talking: () => true, sendVideo: true });
    phones.push(phone);
    expect(phone.videoAnswered).toBe(false);
    const p = (await participants()).find((x) => x.conference === 'vp8room');
    expect(p?.videoCodec).toBeUndefined();
    expect(p?.videoUnavailableReason).toBe('no common video codec (conference uses VP8)');
    await phone.hangup();
  });
});
