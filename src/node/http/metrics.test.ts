import { NodeMetrics } from './metrics';

/** The value of one series in the text exposition, e.g. value(text, 'confnode_conferences'). */
function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('NodeMetrics', () => {
  it('exposes every confnode metric and the default process metrics on its own registry', async () => {
    const text = await new NodeMetrics().text();
    for (const name of [
      'confnode_conferences',
      'confnode_participants',
      'confnode_load_units',
      'confnode_capacity_units',
      'confnode_sip_requests_total',
      'confnode_sip_responses_total',
      'confnode_calls_total',
      'confnode_calls_ended_total',
      'confnode_rtp_packets_total',
      'confnode_rtp_dropped_total',
      'confnode_mix_ticks_total',
      'confnode_mix_round_max_seconds',
      'confnode_webrtc_ice_restarts_total',
      'confnode_webrtc_ice_reconnects_total',
      'process_cpu_user_seconds_total',
      'nodejs_eventloop_lag_seconds',
    ]) {
      expect(text).toContain(`# TYPE ${name} `);
    }
  });

  it('two instances in one process do not clash (no global registry)', async () => {
    const a = new NodeMetrics({ nodeName: 'a', defaultMetrics: false });
    const b = new NodeMetrics({ nodeName: 'b', defaultMetrics: false });
    a.countCall('answered');
    expect(value(await a.text(), 'confnode_calls_total{result="answered",node="a"}')).toBe(1);
    expect(await b.text()).not.toContain('result="answered"');
  });

  it('reads gauges from the sources at scrape time, not before', async () => {
    let conferences = 1;
    const m = new NodeMetrics({
      defaultMetrics: false,
      sources: { conferences: () => conferences, loadUnits: () => 2.25, capacityUnits: () => 100, participants: () => ({ sip: 3 }), mixRoundMaxSeconds: () => 0.004 },
    });
    conferences = 4;
    const text = await m.text();
    expect(value(text, 'confnode_conferences')).toBe(4);
    expect(value(text, 'confnode_load_units')).toBe(2.25);
    expect(value(text, 'confnode_capacity_units')).toBe(100);
    expect(value(text, 'confnode_participants{protocol="sip"}')).toBe(3);
    expect(value(text, 'confnode_participants{protocol="webrtc"}')).toBe(0);
    expect(value(text, 'confnode_mix_round_max_seconds')).toBe(0.004);
  });

  it('setSources() attaches sources after creation', async () => {
    const m = new NodeMetrics({ defaultMetrics: false });
    m.setSources({ capacityUnits: () => 7 });
    expect(value(await m.text(), 'confnode_capacity_units')).toBe(7);
  });

  it('turns cumulative RTP totals into counters that never go down', async () => {
    let totals = { in: 100, out: 50 };
    const m = new NodeMetrics({ defaultMetrics: false, sources: { rtpPackets: () => totals, rtpDropped: () => ({ 'unknown-ssrc': 2 }) } });
    let text = await m.text();
    expect(value(text, 'confnode_rtp_packets_total{direction="in"}')).toBe(100);
    expect(value(text, 'confnode_rtp_dropped_total{reason="unknown-ssrc"}')).toBe(2);
    totals = { in: 30, out: 50 }; // a participant with 80 received packets left
    text = await m.text();
    expect(value(text, 'confnode_rtp_packets_total{direction="in"}')).toBe(100);
    totals = { in: 45, out: 60 };
    text = await m.text();
    expect(value(text, 'confnode_rtp_packets_total{direction="in"}')).toBe(115);
    expect(value(text, 'confnode_rtp_packets_total{direction="out"}')).toBe(60);
  });

  it('bounds label values taken from the network', async () => {
    const m = new NodeMetrics({ defaultMetrics: false });
    m.countSipRequest('INVITE');
    m.countSipRequest('X-EVIL-METHOD');
    m.countSipResponse(486);
    m.countSipResponse(9999);
    m.countCall('not a label value');
    m.countCallEnd('media-timeout');
    m.countCallEnd('{"evil"}');
    const text = await m.text();
    expect(value(text, 'confnode_calls_ended_total{reason="media-timeout"}')).toBe(1);
    expect(value(text, 'confnode_calls_ended_total{reason="other"}')).toBe(1);
    expect(value(text, 'confnode_sip_requests_total{method="INVITE"}')).toBe(1);
    expect(value(text, 'confnode_sip_requests_total{method="other"}')).toBe(1);
    expect(value(text, 'confnode_sip_responses_total{status="486"}')).toBe(1);
    expect(value(text, 'confnode_sip_responses_total{status="other"}')).toBe(1);
    expect(value(text, 'confnode_calls_total{result="other"}')).toBe(1);
  });

  it('caps the number of distinct call results', async () => {
    const m = new NodeMetrics({ defaultMetrics: false });
    for (let i = 0; i < 30; i++) m.countCall(`r${i}`);
    const text = await m.text();
    expect(text.split('\n').filter((l) => l.startsWith('confnode_calls_total{'))).toHaveLength(25); // 24 + other
    expect(value(text, 'confnode_calls_total{result="other"}')).toBe(6);
  });

  it('a throwing source does not fail the scrape; it is counted', async () => {
    const m = new NodeMetrics({
      defaultMetrics: false,
      sources: { conferences: () => { throw new Error('boom'); }, capacityUnits: () => 5 },
    });
    const text = await m.text();
    expect(value(text, 'confnode_capacity_units')).toBe(5);
    expect(value(text, 'confnode_metrics_collect_errors_total')).toBe(1);
  });

  it('mix slot runs are counted by timing from the cumulative totals the media service keeps', async () => {
    let totals = { on_time: 100, late: 2, skipped: 0 };
    const m = new NodeMetrics({ defaultMetrics: false, sources: { mixTicks: () => totals } });
    expect(value(await m.text(), 'confnode_mix_ticks_total{timing="late"}')).toBe(2);
    totals = { on_time: 150, late: 5, skipped: 1 };
    const text = await m.text();
    expect(value(text, 'confnode_mix_ticks_total{timing="on_time"}')).toBe(150);
    expect(value(text, 'confnode_mix_ticks_total{timing="late"}')).toBe(5);
    expect(value(text, 'confnode_mix_ticks_total{timing="skipped"}')).toBe(1);
  });

  it('browser ICE restarts are counted by who asked, and reconnections apart; a total that drops (a replaced worker) adds nothing', async () => {
    let restarts = { node: 2, browser: 1 };
    let reconnects = 2;
    const m = new NodeMetrics({ defaultMetrics: false, sources: { iceRestarts: () => restarts, iceReconnects: () => reconnects } });
    let text = await m.text();
    expect(value(text, 'confnode_webrtc_ice_restarts_total{by="node"}')).toBe(2);
    expect(value(text, 'confnode_webrtc_ice_restarts_total{by="browser"}')).toBe(1);
    expect(value(text, 'confnode_webrtc_ice_reconnects_total')).toBe(2);
    restarts = { node: 3, browser: 1 };
    reconnects = 3;
    text = await m.text();
    expect(value(text, 'confnode_webrtc_ice_restarts_total{by="node"}')).toBe(3);
    expect(value(text, 'confnode_webrtc_ice_reconnects_total')).toBe(3);
    reconnects = 1;
    expect(value(await m.text(), 'confnode_webrtc_ice_reconnects_total')).toBe(3);
    reconnects = 2;
    expect(value(await m.text(), 'confnode_webrtc_ice_reconnects_total')).toBe(4);
  });
});
