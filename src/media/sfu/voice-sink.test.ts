import { FakeClock, asParticipantId } from '../../common';
import { VoiceSwitchedVideo } from '../video/voice-switch';
import { PacketSource, newMediaPacket, videoSourceCodec } from './packet-source';
import { ConferenceSfu } from './sfu';
import { LOCAL_MESH, type SourceCodec } from './types';
import { VoiceSwitchSink } from './voice-sink';

const KEY = Buffer.from([0x65, 0x88]);

function setup() {
  const clock = new FakeClock();
  const voice = new VoiceSwitchedVideo({ codec: 'H264', clock, random: () => 0.5, keyframeIntervalMs: 0 });
  const sfu = new ConferenceSfu({ clock });
  sfu.addSink(new VoiceSwitchSink(voice, 'H264'));
  const shown: Buffer[] = [];
  voice.addViewer(asParticipantId('sip'), (payload) => shown.push(payload));
  const plis: string[] = [];
  const camera = (owner: string, codec: SourceCodec = videoSourceCodec('H264')): PacketSource => {
    const s = new PacketSource({ owner: asParticipantId(owner), kind: 'video', codec, meshTag: LOCAL_MESH, requestKeyframe: () => plis.push(owner) });
    sfu.addSource(s);
    return s;
  };
  return { clock, voice, sfu, shown, plis, camera };
}

const key = (seq: number) => ({ ...newMediaPacket(), sequence: seq, payload: KEY });

describe('VoiceSwitchSink (the SIP endpoints\' switched video as an SFU sink)', () => {
  it('a video source in the conference codec is a candidate: selected, asked for a keyframe through the SFU throttle, shown from it', () => {
    const { clock, voice, shown, plis, camera } = setup();
    const alice = camera('alice');
    expect(plis).toEqual(['alice']);
    voice.viewerKeyframeRequest(asParticipantId('sip'));
    expect(plis).toEqual(['alice']); // throttled by the SFU, deferred
    clock.advance(500);
    expect(plis).toEqual(['alice', 'alice']);
    alice.push(key(1));
    expect(shown).toEqual([KEY]);
  });

  it("another codec, or a participant's second camera, is not switched", () => {
    const { voice, sfu, shown, camera } = setup();
    camera('vp8-only', videoSourceCodec('VP8')).push(key(1));
    expect(voice.showing(asParticipantId('sip'))).toBeUndefined();
    const first = camera('bob');
    const second = camera('bob');
    second.push(key(2));
    expect(shown).toHaveLength(0);
    first.push(key(3));
    expect(shown).toHaveLength(1);
    // The first camera leaves: the switch forgets bob (the second one stays unswitched).
    sfu.removeSource(first);
    expect(voice.showing(asParticipantId('sip'))).toBeUndefined();
  });
});
