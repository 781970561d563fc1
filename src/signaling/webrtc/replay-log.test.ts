import { ReplayLog } from './replay-log';

const encode = (label: string) => (seq: number): string => JSON.stringify({ label, seq });

describe('ReplayLog: what a resumed browser missed', () => {
  it('numbers messages from 1 and returns those after a given seq, in order', () => {
    const log = new ReplayLog();
    expect(log.append(encode('a'))).toBe('{"label":"a","seq":1}');
    log.append(encode('b'));
    log.append(encode('c'));
    expect(log.newest).toBe(3);
    expect(log.after(1)).toEqual(['{"label":"b","seq":2}', '{"label":"c","seq":3}']);
    expect(log.after(3)).toEqual([]);
    expect(log.after(0)).toHaveLength(3);
  });

  it('acknowledged messages are dropped; what came after them is still served', () => {
    const log = new ReplayLog();
    for (let i = 0; i < 5; i++) log.append(encode(`m${i}`));
    log.acknowledge(3);
    expect(log.size).toBe(2);
    expect(log.after(3)).toEqual(['{"label":"m3","seq":4}', '{"label":"m4","seq":5}']);
    expect(log.after(2)).toBeUndefined(); // the page said it had 3: it cannot ask for less
    log.acknowledge(5);
    expect(log.size).toBe(0);
    expect(log.after(5)).toEqual([]);
    log.append(encode('m5'));
    expect(log.after(5)).toEqual(['{"label":"m5","seq":6}']);
  });

  it('a seq from the future, negative or fractional cannot be served', () => {
    const log = new ReplayLog();
    log.append(encode('a'));
    expect(log.after(2)).toBeUndefined();
    expect(log.after(-1)).toBeUndefined();
    expect(log.after(0.5)).toBeUndefined();
  });

  it('keeps at most maxMessages and maxBytes (the newest always); older gaps cannot be served', () => {
    const log = new ReplayLog({ maxMessages: 3, maxBytes: 1000 });
    for (let i = 0; i < 5; i++) log.append(encode(`m${i}`));
    expect(log.after(1)).toBeUndefined(); // seq 2 is gone
    expect(log.after(2)).toHaveLength(3);
    const small = new ReplayLog({ maxMessages: 100, maxBytes: 50 });
    small.append(encode('x'.repeat(30)));
    small.append(encode('y'.repeat(30)));
    expect(small.after(0)).toBeUndefined();
    expect(small.after(1)).toEqual([`{"label":"${'y'.repeat(30)}","seq":2}`]);
  });
});
