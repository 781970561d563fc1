export { startHttpServer, type HttpServerOptions, type RunningHttpServer } from './server';
export { NodeMetrics, type MetricSources, type NodeMetricsOptions, type RtpDirection } from './metrics';
export * from './views';
