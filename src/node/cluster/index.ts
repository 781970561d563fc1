/**
 * The cluster store and the cluster state on top of it (DESIGN.md section 5): what other folders
 * may use. The etcd client never leaks out of this folder.
 */
export type {
  ClusterStore,
  KeyValue,
  Lease,
  LeaseState,
  RangeResult,
  TxnCompare,
  TxnPut,
  TxnRequest,
  TxnResult,
  WatchEvent,
  WatchHandle,
  WatchOptions,
} from './store';
export { MemoryClusterStore, MemoryStoreBackend, createMemoryStore, type MemoryStoreOptions } from './memory-store';
export { EtcdClusterStore, type EtcdStoreOptions } from './etcd-store';
export {
  ConferenceInstanceRecordSchema,
  ConferenceLocationRecordSchema,
  DEFAULT_CLUSTER_PREFIX,
  MAX_MEDIA_NODES_PER_LOCATION,
  NodeRecordSchema,
  type ConferenceInstanceRecord,
  type ConferenceLocationRecord,
  type NodeRecord,
  type NodeState,
} from './cluster-records';
export { ClusterState, type ClusterStateEvents, type ClusterStateOptions, type ConferenceChange, type Revisioned } from './cluster-state';
