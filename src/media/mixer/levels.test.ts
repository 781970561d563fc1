import { sineTone } from '../codecs/tone';
import { SILENCE_DBOV, frameLevelDbov, parseRfc6464Level, rfc6464Dbov } from './levels';

describe('levels', () => {
  test.each([
    ['silence', new Int16Array(320), SILENCE_DBOV],
    ['full-scale square wave is 0 dBov', new Int16Array(320).fill(32767), 0],
    ['full-scale sine is -3 dBov', sineTone(1000, 16000, 320, 32767), -3.01],
    ['-20 dB sine', sineTone(1000, 16000, 320, 3277), -23.01],
  ])('frameLevelDbov: %s', (_name, pcm, db) => {
    expect(frameLevelDbov(pcm)).toBeCloseTo(db, 1);
  });

  test('RFC 6464: V flag is the top bit, level is -dBov in the low 7 bits', () => {
    expect(parseRfc6464Level(0x80 | 30)).toEqual({ voice: true, dbov: -30 });
    expect(parseRfc6464Level(127)).toEqual({ voice: false, dbov: -127 });
    expect(rfc6464Dbov(0x80 | 12)).toBe(-12);
  });
});
