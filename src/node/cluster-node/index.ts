/**
 * A node of a cluster: the composition of the store, the control channel and placement.
 * Other folders import it only through this file.
 */
export { ClusterNode, type ClusterNodeOptions } from './cluster-node';
export { CLUSTER_PROTOCOL, type ClusterEvents, type ClusterOps } from './protocol';
