import { FakeClock } from '../../common';
import { KeyframeThrottle } from './keyframe-throttle';

function setup(intervalMs = 500): { clock: FakeClock; sends: number[]; throttle: KeyframeThrottle } {
  const clock = new FakeClock();
  const sends: number[] = [];
  const throttle = new KeyframeThrottle(() => sends.push(clock.now()), clock, intervalMs);
  return { clock, sends, throttle };
}

describe('KeyframeThrottle (DESIGN 4: every new receiver triggers a throttled PLI upstream)', () => {
  it('sends the first request at once', () => {
    const { sends, throttle } = setup();
    throttle.request();
    expect(sends).toEqual([0]);
  });

  it('sends at most one request per interval, however many viewers ask', () => {
    const { clock, sends, throttle } = setup();
    throttle.request();
    for (let i = 0; i < 10; i++) {
      clock.advance(40);
      throttle.request();
    }
    clock.advance(2000);
    expect(sends).toEqual([0, 500]);
    expect(throttle.stats()).toEqual({ sent: 2, coalesced: 10 });
  });

  it('defers a request made inside the interval to the end of the interval instead of dropping it', () => {
    const { clock, sends, throttle } = setup();
    throttle.request();
    clock.advance(100);
    throttle.request();
    expect(sends).toEqual([0]);
    clock.advance(399);
    expect(sends).toEqual([0]);
    clock.advance(1);
    expect(sends).toEqual([0, 500]);
  });

  it('sends again at once after a quiet interval', () => {
    const { clock, sends, throttle } = setup();
    throttle.request();
    clock.advance(700);
    throttle.request();
    expect(sends).toEqual([0, 700]);
  });

  it('close() cancels a deferred request and ignores later ones', () => {
    const { clock, sends, throttle } = setup();
    throttle.request();
    clock.advance(10);
    throttle.request();
    throttle.close();
    clock.advance(1000);
    throttle.request();
    expect(sends).toEqual([0]);
    expect(clock.pending()).toBe(0);
  });

  it("issue 13 item 3: a new viewer's first request goes out 300 ms after the last one (WebRTC senders drop sooner ones), not at the end of the 500 ms interval; a deferred request is served by it", () => {
    const { clock, sends, throttle } = setup();
    throttle.request(); // t=0
    clock.advance(30);
    throttle.request(); // deferred to t=500
    clock.advance(20);
    throttle.requestFirst(); // t=50: waits for t=300, replacing the deferred one
    clock.advance(1000);
    expect(sends).toEqual([0, 300]);
    clock.advance(10);
    throttle.requestFirst(); // long after: at once
    expect(sends).toEqual([0, 300, 1060]);
  });

  it('first requests of many viewers connecting together still reach the publisher at most once per 300 ms', () => {
    const { clock, sends, throttle } = setup();
    for (let i = 0; i < 40; i++) {
      throttle.requestFirst();
      clock.advance(10);
    }
    clock.advance(1000);
    expect(sends).toEqual([0, 300, 600]);
  });
});

