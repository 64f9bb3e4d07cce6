/**
 * Child processes of the streaming tests get their fresh names through the environment: configToEnv must be
 * the exact inverse of loadConfig.
 */
import { configToEnv, loadConfig, withOverrides } from '../../src/config';
import { freshConfig } from '../support/fresh-config';

describe('configToEnv', () => {
  it('round-trips a fresh config through loadConfig', () => {
    const config = withOverrides(freshConfig('env'), {
      cdcRelay: { leaseDurationMs: 2500, pollIntervalMs: 50, workerId: 'relay-a' },
      sink: { concurrency: 7, partitionsConcurrently: 2 },
      s3Sink: { rotateMs: 1500 },
      metricsPort: -1,
    });
    expect(loadConfig(configToEnv(config))).toEqual(config);
  });

  it('wins over a parent environment that sets a global endpoint', () => {
    const config = freshConfig('env');
    const reloaded = loadConfig({ AWS_ENDPOINT_URL: 'http://127.0.0.1:1', ...configToEnv(config) });
    expect(reloaded.aws.endpoints).toEqual(config.aws.endpoints);
  });

  it('refuses a snapshot prefix inside the lake prefix, which the crawler would mix into one table', () => {
    const env = configToEnv(freshConfig('env'));
    expect(() => loadConfig({ ...env, LAKE_PREFIX: 'lake', SNAPSHOT_PREFIX: 'lake/snapshots' })).toThrow(
      'lake.snapshotPrefix: LAKE_PREFIX and SNAPSHOT_PREFIX must be separate folders (neither inside the other)',
    );
    expect(() => loadConfig({ ...env, LAKE_PREFIX: 'data/lake', SNAPSHOT_PREFIX: 'data' })).toThrow(
      'separate folders',
    );
    expect(loadConfig({ ...env, LAKE_PREFIX: 'lake', SNAPSHOT_PREFIX: 'lakes' }).lake.snapshotPrefix).toBe(
      'lakes',
    );
  });
});
