export * from './schema';
export { parseConfig, loadConfigFile, parseYaml, formatPath, formatIssue, ConfigError, type ConfigIssue } from './load';
export { defaultConfig, defaultConfigInput } from './defaults';
export { selectNode, findVmrByAlias } from './lookup';
export { assertSupported, unsupportedKeys } from './not-yet';
