/**
 * Crash safety of the S3 sink as a real process: `tsx src/streaming/s3-sink/main.ts` with the test's config in
 * its environment, killed with SIGKILL in the middle of a run (twice) and restarted. Wall-clock, memory and
 * count cuts are all in play, so the restarts must replay cuts they could not have made alike. The lake must
 * end with every change exactly once, and a SIGTERM must stop the last instance cleanly (exit 0).
 *
 * Each wait has its own budget (BUDGETS), and the test's timeout is above their sum: a stuck stage fails with
 * what it waited for, not with a bare jest timeout.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createS3Client } from '../../src/aws/clients';
import { configToEnv } from '../../src/config';
import { typeScriptEntry } from '../../src/local/paths';
import { createKafka } from '../../src/kafka/client';
import { createLogger } from '../../src/observability/logger';
import { ensureTopics, pipelineTopics } from '../../src/resources/kafka-topics';
import { ensureBucket } from '../../src/resources/s3-bucket';
import { readLakeRecords } from '../../src/lake-format/lake-reader';
import { cdcTableRoot } from '../../src/lake-format/cdc-layout';
import { s3SinkGroupId } from '../../src/streaming/s3-sink/s3-sink';
import { createS3Storage } from '../../src/lake-format/storage';
import { freshConfig } from '../support/fresh-config';
import {
  cdcMessage,
  makeCdcEvents,
  produceMessages,
  waitForCommittedToEnd,
  waitForLakeRows,
} from './s3-sink-support';
import { waitFor, within } from '../../src/support/timing';
import { deleteConsumerGroups, deletePipelineTopics, emptyBucket } from '../support/cleanup';

const root = join(__dirname, '..', '..');

/** Per wait, in ms; the test's timeout (TEST_TIMEOUT_MS) leaves room above their sum for producing and reading. */
const BUDGETS = {
  firstObjects: 45_000,
  secondObjects: 45_000,
  allRows: 90_000,
  committed: 30_000,
  sigtermExit: 30_000,
};
const TEST_TIMEOUT_MS = Object.values(BUDGETS).reduce((sum, ms) => sum + ms, 0) + 60_000;
const children: ChildProcess[] = [];

afterEach(() => {
  // Each runs in its own process group: the whole group is ours to end.
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.pid) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
});

describe('S3 sink process', () => {
  it(
    'survives kill -9 mid-run and restarts without losing or duplicating a change',
    async () => {
      const config = freshConfig('s3sink-crash', {
        kafka: { sessionTimeoutMs: 6000 },
        s3Sink: {
          flushRecords: 250,
          rotateMs: 700,
          rotateRecordMs: 20 * 60_000,
          maxBufferBytes: 1024 * 1024,
        },
        metricsPort: -1,
      });
      const kafka = createKafka(config, 'test');
      await ensureTopics(kafka.admin(), pipelineTopics(config));
      const s3 = createS3Client(config);
      await ensureBucket(s3, config);
      const storage = createS3Storage({
        s3,
        bucket: config.lake.bucket,
        logger: createLogger('test', config),
      });
      const output: string[] = [];

      const startSink = () => {
        const launch = typeScriptEntry('src/streaming/s3-sink/main.ts');
        const child = spawn(launch.command, launch.args, {
          cwd: root,
          env: { ...process.env, ...configToEnv(config) },
          stdio: ['ignore', 'pipe', 'pipe'],
          detached: true,
        });
        child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
        child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
        children.push(child);
        return child;
      };
      const killHard = async (child: ChildProcess) => {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        process.kill(-child.pid!, 'SIGKILL');
        await exited;
      };
      const objectCount = async () => (await storage.list(cdcTableRoot(config))).length;

      try {
        const events = makeCdcEvents(9000, { spacingMs: 1500, orders: 1500 });
        await produceMessages(kafka, config.topics.cdc, events.slice(0, 6000).map(cdcMessage), 500);

        // First run: killed once it has written some objects, long before it is done.
        const first = startSink();
        await waitFor('the first objects', async () => ((await objectCount()) >= 6 ? true : undefined), {
          timeoutMs: BUDGETS.firstObjects,
          intervalMs: 100,
        });
        await killHard(first);
        const afterFirst = (await readLakeRecords(s3, config)).length;
        expect(afterFirst).toBeLessThan(6000);

        // More changes arrive while it is down; the second run is killed while it catches up.
        await produceMessages(kafka, config.topics.cdc, events.slice(6000).map(cdcMessage), 500);
        const second = startSink();
        const seen = await objectCount();
        await waitFor(
          'the second run to write',
          async () => ((await objectCount()) >= seen + 8 ? true : undefined),
          { timeoutMs: BUDGETS.secondObjects, intervalMs: 100 },
        );
        await killHard(second);

        // Third run: finishes, then stops cleanly on SIGTERM.
        const third = startSink();
        const rows = await waitForLakeRows(s3, config, events.length, BUDGETS.allRows);
        await waitForCommittedToEnd(kafka, s3SinkGroupId(config), config.topics.cdc, BUDGETS.committed);
        const exitCode = new Promise((resolve) => third.once('exit', (code) => resolve(code)));
        third.kill('SIGTERM');
        expect(await within(BUDGETS.sigtermExit, 'the sink to exit on SIGTERM', exitCode)).toBe(0);

        const final = await readLakeRecords(s3, config);
        expect(rows.length).toBe(events.length);
        expect(final).toHaveLength(events.length);
        expect(new Set(final.map((r) => r.sequence_number)).size).toBe(events.length);
        expect(new Set(final.map((r) => r.sequence_number))).toEqual(
          new Set(events.map((e) => e.sequenceNumber)),
        );
      } catch (error) {
        // The processes' own logs explain most failures here.
        console.error(output.join('').split('\n').slice(-40).join('\n'));
        throw error;
      } finally {
        for (const child of children.filter((c) => c.exitCode === null && c.signalCode === null))
          await killHard(child);
        await emptyBucket(s3, config.lake.bucket, { deleteBucket: true });
        s3.destroy();
        await deletePipelineTopics(kafka, config);
        await deleteConsumerGroups(kafka, config);
      }
    },
    TEST_TIMEOUT_MS,
  );
});
