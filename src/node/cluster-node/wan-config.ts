/**
 * The simulated WAN of a cluster config (`wan_sim`, tests and benchmarks only) as the backplane
 * wants it: the impairment on a geo link from this node's location to another. Pure.
 */
import type { WanImpairment } from '../../backplane';
import type { ClusterConfig } from '../config';

export function wanImpairment(config: Pick<ClusterConfig, 'wan_sim'>, from: string, to: string): WanImpairment | undefined {
  const link = config.wan_sim.find((w) => (w.between[0] === from && w.between[1] === to) || (w.between[0] === to && w.between[1] === from));
  return link ? { delayMs: link.delay_ms, jitterMs: link.jitter_ms, loss: link.loss } : undefined;
}
