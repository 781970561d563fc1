/**
 * Media threads of the node: the MediaHost interface (media and backplanes, routed by
 * conference), its worker-thread and in-thread implementations. What main.ts and the cluster
 * glue use of this folder.
 */
export type { MediaHost, BackplaneControl } from './media-host';
export { WorkerMediaService, splitPortRange, type WorkerMediaOptions } from './worker-pool';
export { LocalMediaHost } from './local-host';
