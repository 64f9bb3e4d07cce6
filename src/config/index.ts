/**
 * The one typed configuration of the pipeline: each setting is declared once, in ./bindings.
 */
export { ConfigError } from './config-error';
export { CDC_TABLE_FOLDER, compactedLakePrefix, ORDERS_CURRENT_VIEW } from './lake-names';
export { configToEnv, ENV_SPEC, loadConfig, type Config } from './load';
export { LOCAL_HOST, LOCAL_PORTS } from './local-stack';
export { withOverrides, type DeepPartial } from './overrides';
