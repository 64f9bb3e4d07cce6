/**
 * A config whose every resource name (topics, tables, bucket, Glue names, task queue) is unique to one test,
 * so tests share the local stack without seeing each other's data.
 */
import { randomBytes } from 'node:crypto';
import { loadConfig, withOverrides, type Config, type DeepPartial } from '../../src/config';

export function uniqueSuffix(): string {
  return `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

export function freshConfig(label: string, overrides: DeepPartial<Config> = {}): Config {
  const id = `${label}-${uniqueSuffix()}`.toLowerCase().replace(/[^a-z0-9-]/g, '-');
  const underscored = id.replace(/-/g, '_');
  const base = withOverrides(loadConfig(), {
    topics: {
      events: `${id}.events`,
      eventsDlq: `${id}.events.dlq`,
      cdc: `${id}.cdc`,
      cdcDlq: `${id}.cdc.dlq`,
      partitions: 3,
    },
    dynamodb: { ordersTable: `${id}-orders`, checkpointTable: `${id}-checkpoints` },
    lake: { bucket: id.slice(0, 63) },
    glue: { database: underscored, crawler: `${id}-crawler` },
    athena: { workgroup: `${id}-wg` },
    temporal: { taskQueue: `${id}-tq` },
    kafka: { clientId: id },
    logLevel: (process.env.LOG_LEVEL as Config['logLevel']) ?? 'warn',
  });
  return withOverrides(base, overrides);
}
