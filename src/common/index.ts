export * from './ids';
export * from './errors';
export * from './emitter';
export * from './clock';
export * from './logger';
export * from './fuzz';
export * from './rpc';
