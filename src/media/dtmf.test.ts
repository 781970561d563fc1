import { DtmfRecognizer, dtmfDigitForEvent, parseTelephoneEvent } from './dtmf';

/** RFC 4733 event block: event, E bit, volume 10, duration. */
const ev = (event: number, duration: number, end = false): Buffer =>
  Buffer.from([event, (end ? 0x80 : 0) | 10, duration >> 8, duration & 0xff]);

/** A full digit as a sender emits it: start, updates every 50 ms, three redundant end packets. */
function digitPackets(event: number, ts: number, totalDuration = 800): [number, Buffer][] {
  const out: [number, Buffer][] = [];
  for (let d = 160; d < totalDuration; d += 400) out.push([ts, ev(event, d)]);
  for (let i = 0; i < 3; i++) out.push([ts, ev(event, totalDuration, true)]);
  return out;
}

function recognise(packets: [number, Buffer][]): string {
  const r = new DtmfRecognizer();
  return packets.map(([ts, p]) => r.push(ts, p) ?? '').join('');
}

describe('parseTelephoneEvent (RFC 4733 section 2.3)', () => {
  test('reads event, E bit, volume and duration', () => {
    expect(parseTelephoneEvent(Buffer.from([11, 0x8a, 0x03, 0x20]))).toEqual({ event: 11, end: true, volume: 10, duration: 800 });
    expect(parseTelephoneEvent(Buffer.from([1, 0x0a, 0, 160]))).toEqual({ event: 1, end: false, volume: 10, duration: 160 });
  });

  test('refuses payloads shorter than 4 bytes', () => {
    expect(parseTelephoneEvent(Buffer.from([1, 2, 3]))).toBeUndefined();
  });

  test.each([
    [0, '0'],
    [9, '9'],
    [10, '*'],
    [11, '#'],
    [12, 'A'],
    [15, 'D'],
    [16, undefined],
    [200, undefined],
  ])('event %i is digit %s', (event, digit) => {
    expect(dtmfDigitForEvent(event)).toBe(digit);
  });
});

describe('DtmfRecognizer (RFC 4733 section 2.5)', () => {
  test.each<[string, [number, Buffer][], string]>([
    ['one digit with updates and three redundant end packets is reported once', digitPackets(5, 1000), '5'],
    ['PIN 1234# as separate events', [1, 2, 3, 4, 11].flatMap((e, i) => digitPackets(e, 1000 + i * 4000)), '1234#'],
    ['the same digit twice (new timestamp) is reported twice', [...digitPackets(7, 1000), ...digitPackets(7, 9000)], '77'],
    ['start packets lost: the first end packet still reports the digit', [[1000, ev(3, 800, true)], [1000, ev(3, 800, true)]], '3'],
    ['an old packet arriving after a newer event is ignored', [...digitPackets(1, 5000), [1000, ev(2, 160)]], '1'],
    ['flash (event 16) is not a digit', digitPackets(16, 1000), ''],
    [
      'timestamp wrap: the next event after 2^32 is new',
      [...digitPackets(8, 0xfffff000), ...digitPackets(9, 0x00000200)],
      '89',
    ],
    [
      'a long event split into segments (duration near 0xFFFF) is one digit',
      [
        [1000, ev(0, 160)],
        [1000, ev(0, 0xffff)],
        [1000 + 0xffff, ev(0, 160)],
        [1000 + 0xffff, ev(0, 800, true)],
      ],
      '0',
    ],
  ])('%s', (_name, packets, digits) => {
    expect(recognise(packets)).toBe(digits);
  });

  test('counts malformed packets and repeats', () => {
    const r = new DtmfRecognizer();
    r.push(1, Buffer.from([1]));
    for (const [ts, p] of digitPackets(5, 1000)) r.push(ts, p);
    expect(r.stats).toMatchObject({ malformed: 1, digits: 1, repeats: 4 });
  });
});
