/**
 * Two jest projects, so pure logic fails fast and the real-service tests get the budget they need:
 * - `unit`: pure logic, a short timeout, and no network at all (test/support/no-network.ts makes any socket
 *   connection fail the test, which is what keeps this list honest);
 * - `services`: everything else, against the running local stack (Temporal, Kafka, moto, the lake endpoint),
 *   sharing one prebuilt Temporal workflow bundle (test/support/global-setup.ts).
 * Jest runs TypeScript through SWC; hyparquet ships ES modules only, so it is transformed too.
 */
const UNIT_TESTS = [
  'test/control/args.test.ts',
  'test/control/query-sql-size.test.ts',
  'test/control/read-only-sql.test.ts',
  'test/control/report-rendering.test.ts',
  'test/lake/parquet-types.test.ts',
  'test/lake/partition-expression.test.ts',
  'test/lake/reconcile-row.test.ts',
  'test/lake/schema-merge.test.ts',
  'test/lake/sql-translate.test.ts',
  'test/ops/docker-compose.test.ts',
  'test/ops/iam-policy.test.ts',
  'test/ops/kubernetes.test.ts',
  'test/ops/logging.test.ts',
  'test/ops/modes.test.ts',
  'test/ops/observability.test.ts',
  'test/ops/readme.test.ts',
  'test/soak/verdict.test.ts',
  'test/soak/stream-window.test.ts',
  'test/streaming/config-env.test.ts',
  'test/streaming/stream-records.test.ts',
  'test/support/backoff.test.ts',
];

const shared = {
  testEnvironment: 'node',
  transform: { '^.+\\.(t|j)sx?$': ['@swc/jest'] },
  transformIgnorePatterns: ['/node_modules/(?!(hyparquet|hyparquet-writer)/)'],
};

module.exports = {
  // A global option in jest (projects cannot set it): the services' budget; test/support/no-network.ts sets the
  // unit project's 10 s for each of its files.
  testTimeout: 120_000,
  maxWorkers: 2,
  verbose: true,
  projects: [
    {
      ...shared,
      displayName: 'unit',
      testMatch: UNIT_TESTS.map((path) => `<rootDir>/${path}`),
      setupFilesAfterEnv: ['<rootDir>/test/support/no-network.ts'],
    },
    {
      ...shared,
      displayName: 'services',
      roots: ['<rootDir>/test'],
      testMatch: ['**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', ...UNIT_TESTS.map((path) => `<rootDir>/${path}`)],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
  ],
};
