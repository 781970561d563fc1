export { startHttpServer, type HttpServerOptions, type RunningHttpServer } from './server';
export { NodeMetrics, type MetricSources, type NodeMetricsOptions, type RtpDirection } from './metrics';
export { loadTlsFiles, type LoadedTls, type TlsFilesConfig } from './tls-files';
export { TrustedProxies, clientAddress, type ClientAddress } from './forwarded';
export * from './views';
