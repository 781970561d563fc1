import { FakeClock, silentLogger } from '../../common';
import { LocalMediaService } from '../../media';
import type { VmrConfig } from '../config';
import { ConferenceRegistry } from './registry';

const VMR: VmrConfig = { name: 'meet', aliases: ['meet'], video_codec: 'H264' };
const SMALL: VmrConfig = { name: 'small', aliases: ['small'], video_codec: 'H264', max_participants: 2 };

function makeRegistry(capacity: number): { registry: ConferenceRegistry; media: LocalMediaService } {
  const media = new LocalMediaService({
    address: '127.0.0.1',
    rtpPorts: { min: 43000, max: 43099 },
    clock: new FakeClock(),
    logger: silentLogger,
    mixTalkers: 3,
    jitterBufferMs: 60,
    opusComplexity: 3,
  });
  return { registry: new ConferenceRegistry({ capacity, logger: silentLogger, media }), media };
}

const joinReq = (hangups: string[], name: string) => ({
  protocol: 'sip' as const,
  displayName: name,
  remote: 'udp:127.0.0.1:5062',
  cost: 0.25,
  hangup: async () => {
    hangups.push(name);
  },
});

describe('ConferenceRegistry', () => {
  it('a conference instance starts on first join and ends after the last leave', () => {
    const { registry } = makeRegistry(10);
    const started: string[] = [];
    const ended: string[] = [];
    registry.events.on('conference-started', (c) => started.push(c.vmr.name));
    registry.events.on('conference-ended', (c) => ended.push(c.vmr.name));
    const a = registry.join(VMR, joinReq([], 'a'), registry.reserve(VMR, 0.25));
    const b = registry.join(VMR, joinReq([], 'b'), registry.reserve(VMR, 0.25));
    expect(a.conference).toBe(b.conference);
    expect(started).toEqual(['meet']);
    registry.leave(a.id);
    expect(ended).toEqual([]);
    registry.leave(b.id);
    expect(ended).toEqual(['meet']);
    expect(registry.conferences()).toEqual([]);
    expect(registry.load).toBe(0);
  });

  it('capacity: four audio participants (0.25) fill one unit; the fifth is refused with capacity (SIP 503)', () => {
    const { registry } = makeRegistry(1);
    for (let i = 0; i < 4; i++) registry.join(VMR, joinReq([], `p${i}`), registry.reserve(VMR, 0.25));
    expect(() => registry.reserve(VMR, 0.25)).toThrow(expect.objectContaining({ code: 'capacity' }));
  });

  it('a reservation counts toward load until joined or released, so concurrent admissions cannot overbook', () => {
    const { registry } = makeRegistry(0.5);
    const r1 = registry.reserve(VMR, 0.25);
    registry.reserve(VMR, 0.25);
    expect(() => registry.reserve(VMR, 0.25)).toThrow(expect.objectContaining({ code: 'capacity' }));
    r1.release();
    r1.release(); // idempotent
    expect(registry.load).toBe(0.25);
  });

  it('max_participants of a VMR refuses the next caller', () => {
    const { registry } = makeRegistry(10);
    registry.join(SMALL, joinReq([], 'a'), registry.reserve(SMALL, 0.25));
    registry.join(SMALL, joinReq([], 'b'), registry.reserve(SMALL, 0.25));
    expect(() => registry.reserve(SMALL, 0.25)).toThrow(/full/);
  });

  it('endConference() hangs up every participant of that conference only', async () => {
    const { registry } = makeRegistry(10);
    const hangups: string[] = [];
    registry.join(VMR, joinReq(hangups, 'a'), registry.reserve(VMR, 0.25));
    registry.join(VMR, joinReq(hangups, 'b'), registry.reserve(VMR, 0.25));
    registry.join(SMALL, joinReq(hangups, 'c'), registry.reserve(SMALL, 0.25));
    expect(await registry.endConference('meet')).toBe(2);
    expect(hangups.sort()).toEqual(['a', 'b']);
    expect(await registry.endConference('nope')).toBe(0);
  });

  it("leave() releases the participant's media and reports its final counters", () => {
    const { registry, media } = makeRegistry(10);
    const a = registry.join(VMR, joinReq([], 'a'), registry.reserve(VMR, 0.25));
    const removeSpy = jest.spyOn(media, 'removeParticipant');
    const left: string[] = [];
    registry.events.on('participant-left', (rec) => left.push(rec.displayName));
    registry.leave(a.id);
    registry.leave(a.id); // unknown id: no-op
    expect(removeSpy).toHaveBeenCalledTimes(1);
    expect(left).toEqual(['a']);
  });
});
