/**
 * A bounded run (`npm start -- --duration N`) gets its own topics, tables, lake prefix, Glue database and
 * crawler, so its end-to-end counts are exact (nothing from earlier runs or from the continuous pipeline is
 * counted) and it never disturbs the continuous pipeline's data. The bucket, workgroup and task queue are shared.
 */
import { withOverrides, type Config } from '../../config';

export function runScopedConfig(config: Config, runId: string): Config {
  const dotted = `run-${runId}`;
  const underscored = `run_${runId}`;
  return withOverrides(config, {
    topics: {
      events: `${config.topics.events}.${dotted}`,
      eventsDlq: `${config.topics.eventsDlq}.${dotted}`,
      cdc: `${config.topics.cdc}.${dotted}`,
      cdcDlq: `${config.topics.cdcDlq}.${dotted}`,
    },
    dynamodb: {
      ordersTable: `${config.dynamodb.ordersTable}-${dotted}`,
      checkpointTable: `${config.dynamodb.checkpointTable}-${dotted}`,
    },
    lake: {
      prefix: `runs/${runId}/${config.lake.prefix}`,
      snapshotPrefix: `runs/${runId}/${config.lake.snapshotPrefix}`,
      reportsPrefix: `runs/${runId}/${config.lake.reportsPrefix}`,
    },
    glue: { database: `${config.glue.database}_${underscored}`, crawler: `${config.glue.crawler}-${dotted}` },
    kafka: { clientId: `${config.kafka.clientId}-${dotted}` },
  });
}

/** A sortable, readable run id: 20261125t203000. */
export function newRunId(now = new Date()): string {
  return now.toISOString().replace(/[-:]/g, '').slice(0, 15).toLowerCase();
}
