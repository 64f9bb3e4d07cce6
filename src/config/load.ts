/**
 * The typed configuration of the pipeline, read from the environment and validated, and written back to an
 * environment; all of it follows the table in ./bindings.
 *
 * @example
 *   const config = loadConfig();
 *   config.kafka.brokers; // ['127.0.0.1:9092']
 */
import type { z } from 'zod';
import { configBindings, readMode } from './bindings';
import { ConfigError } from './config-error';

export const configSchema = configBindings.schema;

export type Config = z.infer<typeof configSchema>;

/**
 * Environment variables and their defaults, derived from the binding table (bindings.ts). The key is the
 * variable name; the README and docker-compose are checked against it.
 */
export const ENV_SPEC: Readonly<Record<string, { readonly default: string; readonly doc: string }>> =
  Object.fromEntries(configBindings.variables.map(({ name, ...spec }) => [name, spec]));

/**
 * Reads and validates the configuration. Unknown values fail with a message naming the variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const raw = configBindings.load({ env, mode: readMode(env) });
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const details = result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid configuration: ${details}`);
  }
  return result.data;
}

/**
 * The environment that makes `loadConfig()` return this config again: for starting a pipeline process as a
 * child with a test's fresh names (`spawn(tsx, [entry], { env: { ...process.env, ...configToEnv(config) } })`).
 * AWS credentials are never part of it (local mode fills in dummy ones; AWS mode uses the SDK's provider chain
 * of the child).
 *
 * @example
 *   const env = configToEnv(freshConfig('crash'));
 *   loadConfig({ ...env }).dynamodb.ordersTable; // the fresh table name
 */
export function configToEnv(config: Config): Record<string, string> {
  return Object.fromEntries(
    Object.entries(configBindings.toEnv(config)).filter(
      (entry): entry is [string, string] => entry[1] !== undefined,
    ),
  );
}
