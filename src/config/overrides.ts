import { configSchema, type Config } from './load';

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** A copy of the config with a partial override, for tests that need fresh topic/table/bucket names. */
export function withOverrides(config: Config, overrides: DeepPartial<Config>): Config {
  return configSchema.parse(deepMerge(config, overrides));
}

function deepMerge<T>(base: T, patch: unknown): T {
  if (patch === undefined) return base;
  if (
    typeof base !== 'object' ||
    base === null ||
    Array.isArray(base) ||
    typeof patch !== 'object' ||
    patch === null
  ) {
    return patch as T;
  }
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [key, value] of Object.entries(patch as Record<string, unknown>)) {
    out[key] = deepMerge((base as Record<string, unknown>)[key], value);
  }
  return out as T;
}
