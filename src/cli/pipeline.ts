/**
 * `npm run pipeline -- <command>`: the control plane from a terminal. Every command starts the matching workflow
 * on TEMPORAL_TASK_QUEUE and waits for its result, so a control-plane worker must be running
 * (`npx tsx src/workers/control-plane-worker.ts`, or `npm start`), or pass `--with-worker` to run one in this
 * process for the duration of the command.
 *
 *   npm run pipeline -- provision
 *   npm run pipeline -- crawl
 *   npm run pipeline -- report --time 2024-05-01T14:00:00Z
 *   npm run pipeline -- query "SELECT status, count(*) FROM orders_cdc GROUP BY 1"
 *   npm run pipeline -- backfill --segments 8
 *   npm run pipeline -- compact --hours 2024-05-01T09,2024-05-01T10
 *   npm run pipeline -- reconcile --segments 8
 *   npm run pipeline -- schedules list | trigger crawl | pause report --note "maintenance" | unpause report
 *   npm run pipeline -- iam --account 123456789012 --region eu-west-1   # IAM policies; no Temporal needed
 *   npm run pipeline -- cleanup-runs [--delete] [--run <id>...]   # leftovers of killed bounded runs
 *
 * Exit codes: 0 success, 1 the workflow failed, 2 bad arguments, 3 no Temporal / no worker, 130 interrupted.
 * `--json` prints the raw result on stdout (progress and notes go to stderr).
 */
import {
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type WorkflowHandle,
  type WorkflowResultType,
} from '@temporalio/client';
import { Command, InvalidArgumentError } from 'commander';
import type { z } from 'zod';
import { createAwsClients, destroyAwsClients } from '../aws/clients';
import { CDC_TABLE_FOLDER, ConfigError, loadConfig, type Config } from '../config';
import { createKafka } from '../kafka/client';
import { scheduleIds, triggerSchedule, type ControlScheduleName } from '../resources/schedules';
import {
  backfillArgsSchema,
  compactArgsSchema,
  crawlArgsSchema,
  describeArgsError,
  provisionArgsSchema,
  queryArgsSchema,
  reconcileArgsSchema,
  reportArgsSchema,
} from '../contract/args';
import { checkReadOnlySql, ReadOnlySqlError } from '../contract/read-only-sql';
import type { WorkflowKind } from '../contract/types';
import { deleteRun, findRuns, type RunResource } from './main-job/run-cleanup';
import { followBackfill } from './shared/backfill-progress';
import { addIamCommand } from './shared/iam-command';
import {
  describeBackfill,
  describeCompaction,
  describeCrawl,
  describeQuery,
  describeReconcile,
  explainFailure,
  formatBytes,
  outcomesTable,
  plainAwareTable,
  reportTable,
  resultTable,
  say,
} from './shared/output';
import { integer, decimal } from '../support/cli-options';
import {
  CliError,
  compactTime,
  openSession,
  workflowIdFor,
  type PipelineWorkflows,
  type Session,
} from './shared/session';

interface GlobalOptions {
  withWorker?: boolean;
  json?: boolean;
}

const note = (line: string) => console.error(line);

/** Validates with the workflow's own schema, so the CLI and the workflow reject exactly the same input. */
function validated<S extends z.ZodType>(name: string, schema: S, raw: Record<string, unknown>): z.infer<S> {
  const args = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined));
  const result = schema.safeParse(args);
  if (!result.success) throw new CliError(`${name}: invalid argument ${describeArgsError(result.error)}`, 2);
  return result.data;
}

function announce(session: Session, handle: WorkflowHandle): void {
  const { uiUrl, namespace } = session.config.temporal;
  note(
    `started ${handle.workflowId}  (${uiUrl}/namespaces/${namespace}/workflows/${encodeURIComponent(handle.workflowId)})`,
  );
}

async function withSession(
  program: Command,
  body: (session: Session, globals: GlobalOptions) => Promise<void>,
): Promise<void> {
  const globals = program.opts<GlobalOptions>();
  const session = await openSession({ withWorker: globals.withWorker });
  try {
    await body(session, globals);
  } finally {
    await session.close();
  }
}

function printJson(value: unknown): void {
  console.log(JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2));
}

/** Ctrl-C while waiting: detach (the workflow goes on) or, for a query, cancel it first. */
function onInterrupt(handler: () => Promise<void>): () => void {
  let interrupted = false;
  const listener = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    handler()
      .catch((error: Error) => note(`while handling Ctrl-C: ${error.message}`))
      .finally(() => process.exit(130));
  };
  process.on('SIGINT', listener);
  return () => process.off('SIGINT', listener);
}

/** What Ctrl-C does unless a command says otherwise: leave, and the workflow goes on. */
async function detach(handle: WorkflowHandle): Promise<void> {
  note(
    `\ndetached: ${handle.workflowId} keeps running (temporal workflow show --workflow-id ${handle.workflowId})`,
  );
}

type ResultOf<K extends WorkflowKind> = WorkflowResultType<PipelineWorkflows[K]>;

interface WorkflowCommand<K extends WorkflowKind> {
  kind: K;
  /** What the workflow works on (a table, a database...): part of its id and its memo. */
  target: (config: Config) => string;
  /** Already validated, so bad input fails before anything is contacted. */
  args: unknown;
  /** Default: `<kind>-<target>-<time>-<4 hex>`. */
  workflowId?: (target: string) => string;
  /** Set when the command does not wait: called with the started workflow, then the command ends. */
  detached?: (handle: WorkflowHandle<PipelineWorkflows[K]>) => void;
  /** Ctrl-C while waiting; default: {@link detach}. */
  onInterrupt?: (handle: WorkflowHandle<PipelineWorkflows[K]>) => Promise<void>;
  /** Default: the workflow's result. */
  result?: (handle: WorkflowHandle<PipelineWorkflows[K]>, globals: GlobalOptions) => Promise<ResultOf<K>>;
  /** The result for people; `--json` prints it raw instead. */
  describe: (result: ResultOf<K>) => string[];
  /** Why a result the workflow returned is still a failure of the command (exit 1), after it is printed. */
  failure?: (result: ResultOf<K>) => string | undefined;
}

/** What every workflow command does: start the workflow, say where to see it, wait, print the result. */
function runWorkflowCommand<K extends WorkflowKind>(
  program: Command,
  command: WorkflowCommand<K>,
): Promise<void> {
  return withSession(program, async (session, globals) => {
    const target = command.target(session.config);
    const workflowId = command.workflowId?.(target) ?? workflowIdFor(command.kind, target);
    const handle = await session.start(command.kind, target, command.args, workflowId);
    announce(session, handle);
    if (command.detached) return command.detached(handle);
    const whenInterrupted = command.onInterrupt ?? detach;
    const stop = onInterrupt(() => whenInterrupted(handle));
    const result = command.result ? await command.result(handle, globals) : await handle.result();
    stop();
    if (globals.json) printJson(result);
    else for (const line of command.describe(result)) say(line);
    const failure = command.failure?.(result);
    if (failure) throw new CliError(failure, 1);
  });
}

/** `pipeline provision`: the provision workflow. */
function addProvisionCommand(program: Command): void {
  program
    .command('provision')
    .description(
      'ensure topics, tables, bucket, Glue database + crawler, Athena workgroup and schedules (idempotent)',
    )
    .option('--no-schedules', 'do not create or update the Temporal schedules')
    .option('--crawl-interval <minutes>', 'crawl schedule interval', integer)
    .option('--report-interval <minutes>', 'report schedule interval', integer)
    .action((opts: { schedules: boolean; crawlInterval?: number; reportInterval?: number }) =>
      runWorkflowCommand(program, {
        kind: 'provision',
        target: (config) => config.temporal.taskQueue,
        args: validated('provision', provisionArgsSchema, {
          schedules: opts.schedules ? undefined : false,
          crawlIntervalMinutes: opts.crawlInterval,
          reportIntervalMinutes: opts.reportInterval,
        }),
        describe: (result) => [
          outcomesTable(result.outcomes),
          `${result.created} created, ${result.updated} updated, ${result.exists} already in place${result.changed ? '' : ' (nothing changed)'}`,
        ],
      }),
    );
}

/** `pipeline crawl`: the crawl workflow. */
function addCrawlCommand(program: Command): void {
  program
    .command('crawl')
    .description('run the Glue crawler over the CDC data and wait for it (joins a crawl already running)')
    .option('--crawler <name>', 'crawler (default: GLUE_CRAWLER)')
    .option('--poll-seconds <n>', 'seconds between state checks', integer)
    .option('--timeout-minutes <n>', 'give up after this long', integer)
    .action((opts: { crawler?: string; pollSeconds?: number; timeoutMinutes?: number }) => {
      const args = validated('crawl', crawlArgsSchema, {
        crawler: opts.crawler,
        pollIntervalSeconds: opts.pollSeconds,
        timeoutMinutes: opts.timeoutMinutes,
      });
      return runWorkflowCommand(program, {
        kind: 'crawl',
        target: (config) => args.crawler ?? config.glue.crawler,
        args,
        describe: (result) => [describeCrawl(result)],
      });
    });
}

/** `pipeline report`: the report workflow. */
function addReportCommand(program: Command): void {
  program
    .command('report')
    .description('run the report SQL files through Athena and write CSV + HTML reports to S3')
    .option('--reports <names>', 'comma-separated report names (default: all in reports/)', (v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .option('--time <iso>', 'report time: end of the window and the key of the objects (default: now)')
    .option('--window-hours <n>', 'window length', integer)
    .option('--database <name>', 'Glue database (default: GLUE_DATABASE)')
    .action((opts: { reports?: string[]; time?: string; windowHours?: number; database?: string }) => {
      const args = validated('report', reportArgsSchema, {
        reports: opts.reports,
        reportTime: opts.time,
        windowHours: opts.windowHours,
        database: opts.database,
      });
      return runWorkflowCommand(program, {
        kind: 'report',
        target: (config) => args.database ?? config.glue.database,
        args,
        describe: (summary) => [
          `report time ${summary.reportTime} (${summary.reportTimeSource}), window ${summary.windowStart} – ${summary.windowEnd}`,
          reportTable(summary),
          ...summary.reports.flatMap((r) =>
            r.localHtmlPath ? [`  ${r.title}: file://${r.localHtmlPath}`] : [],
          ),
          `${formatBytes(summary.bytesScanned)} scanned in total`,
        ],
      });
    });
}

/** `pipeline query`: the query workflow (read-only SQL, checked before anything starts). */
function addQueryCommand(program: Command): void {
  program
    .command('query')
    .description('run one read-only SQL statement (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN) through Athena')
    .argument('<sql>', 'the statement, quoted')
    .option('--database <name>', 'database (default: GLUE_DATABASE)')
    .option('--max-rows <n>', 'rows to return (default 1000, max 10000)', integer)
    .option('--timeout-seconds <n>', 'stop the query after this long (default 600)', integer)
    .action((sql: string, opts: { database?: string; maxRows?: number; timeoutSeconds?: number }) => {
      const args = validated('query', queryArgsSchema, {
        sql,
        database: opts.database,
        maxRows: opts.maxRows,
        timeoutSeconds: opts.timeoutSeconds,
      });
      try {
        checkReadOnlySql(args.sql);
      } catch (error) {
        if (error instanceof ReadOnlySqlError) throw new CliError(`query rejected: ${error.message}`, 2);
        throw error;
      }
      return runWorkflowCommand(program, {
        kind: 'query',
        target: (config) => args.database ?? config.glue.database,
        args,
        onInterrupt: async (handle) => {
          note('\ncancelling the query (the Athena query is stopped)...');
          await handle.cancel();
          await handle.result().catch(() => undefined);
        },
        describe: (result) => [resultTable(result), describeQuery(result)],
      });
    });
}

/** `pipeline backfill`: the backfill workflow, with a progress bar. */
function addBackfillCommand(program: Command): void {
  program
    .command('backfill')
    .description(
      'export the orders table to S3 as a Parquet snapshot (parallel Scan, resumable), with a progress bar',
    )
    .option('--snapshot-id <id>', 'snapshot folder name (default: the start time, e.g. 20240501T140000Z)')
    .option('--table <name>', 'table (default: ORDERS_TABLE)')
    .option('--segments <n>', 'parallel Scan segments (default 4)', integer)
    .option('--page-size <n>', 'Scan page size (default 1000)', integer)
    .option(
      '--pages-per-part <n>',
      'at most this many Scan pages per Parquet object (default: no limit, 10 when throttled)',
      integer,
    )
    .option('--target-bytes <n>', 'size of the Parquet objects (default 134217728)', integer)
    .option('--max-items-per-second <n>', 'read throttle over all segments', decimal)
    .option('--crawl', 'run the crawl workflow when the snapshot is complete')
    .option('--detach', 'start it and exit without waiting')
    .action(
      (opts: {
        snapshotId?: string;
        table?: string;
        segments?: number;
        pageSize?: number;
        pagesPerPart?: number;
        targetBytes?: number;
        maxItemsPerSecond?: number;
        crawl?: boolean;
        detach?: boolean;
      }) => {
        if (opts.detach && program.opts<GlobalOptions>().withWorker) {
          throw new CliError('--detach with --with-worker: the worker would stop at once', 2);
        }
        const snapshotId = opts.snapshotId ?? compactTime();
        const args = validated('backfill', backfillArgsSchema, {
          snapshotId,
          table: opts.table,
          segments: opts.segments,
          pageSize: opts.pageSize,
          pagesPerPart: opts.pagesPerPart,
          targetBytes: opts.targetBytes,
          maxItemsPerSecond: opts.maxItemsPerSecond,
          crawl: opts.crawl,
        });
        return runWorkflowCommand(program, {
          kind: 'backfill',
          target: (config) => args.table ?? config.dynamodb.ordersTable,
          // One id per snapshot: starting the same snapshot twice while it runs is refused by Temporal.
          workflowId: (table) => `backfill-${table}-${snapshotId}`,
          args,
          detached: opts.detach
            ? (handle) =>
                note(
                  `follow it with: temporal workflow query --workflow-id ${handle.workflowId} --type progress`,
                )
            : undefined,
          result: (handle, globals) =>
            followBackfill(handle, { bar: !globals.json && process.stderr.isTTY === true }),
          describe: (result) => [describeBackfill(result)],
        });
      },
    );
}

/** `pipeline compact`: the compact workflow. */
function addCompactCommand(program: Command): void {
  program
    .command('compact')
    .description('merge the small objects of the closed hours of the CDC table into target-size objects')
    .option(
      '--hours <list>',
      'comma-separated UTC hours, e.g. 2024-05-01T09 (default: every closed hour)',
      (v) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
    )
    .option('--grace-minutes <n>', 'an hour is closed this long after it ends (default 15)', integer)
    .option('--target-bytes <n>', 'size of the compacted objects (default 134217728)', integer)
    .option(
      '--reader-grace-seconds <n>',
      'keep replaced objects this long after the switch (default 300)',
      integer,
    )
    .action(
      (opts: {
        hours?: string[];
        graceMinutes?: number;
        targetBytes?: number;
        readerGraceSeconds?: number;
      }) => {
        const args = validated('compact', compactArgsSchema, {
          hours: opts.hours,
          graceMinutes: opts.graceMinutes,
          targetBytes: opts.targetBytes,
          readerGraceSeconds: opts.readerGraceSeconds,
        });
        return runWorkflowCommand(program, {
          kind: 'compact',
          target: (config) => `${config.glue.database}.${CDC_TABLE_FOLDER}`,
          args,
          describe: (result) => [describeCompaction(result)],
        });
      },
    );
}

/** `pipeline reconcile`: the reconcile workflow; exits 1 when DynamoDB and the lake disagree. */
function addReconcileCommand(program: Command): void {
  program
    .command('reconcile')
    .description("compare the DynamoDB orders table with the lake's orders_current view, field by field")
    .option('--segments <n>', 'parallel Scan segments (default 4)', integer)
    .option('--run-size <n>', 'items sorted in memory per run (default 50000)', integer)
    .option(
      '--freshness-seconds <n>',
      'a change older than this must be in the lake (default: RECONCILE_FRESHNESS_SECONDS)',
      integer,
    )
    .option('--sample-size <n>', 'ids shown of each kind of drift (default 20)', integer)
    .action(
      (opts: { segments?: number; runSize?: number; freshnessSeconds?: number; sampleSize?: number }) => {
        const args = validated('reconcile', reconcileArgsSchema, {
          segments: opts.segments,
          runSize: opts.runSize,
          freshnessSeconds: opts.freshnessSeconds,
          sampleSize: opts.sampleSize,
        });
        return runWorkflowCommand(program, {
          kind: 'reconcile',
          target: (config) => config.dynamodb.ordersTable,
          args,
          describe: (result) => [describeReconcile(result)],
          failure: (result) =>
            result.passed
              ? undefined
              : `DynamoDB and the lake disagree: ${result.missing} missing, ${result.extra} extra, ${result.different} different`,
        });
      },
    );
}

/** `pipeline schedules list|describe|trigger|pause|unpause`: the crawl, report and compact schedules. */
function addSchedulesCommand(program: Command): void {
  const schedules = program.command('schedules').description('the crawl and report schedules');
  const scheduleName = (raw: string): ControlScheduleName => {
    if (raw !== 'crawl' && raw !== 'report' && raw !== 'compact' && raw !== 'reconcile')
      throw new InvalidArgumentError('expected "crawl", "report", "compact" or "reconcile"');
    return raw;
  };

  schedules
    .command('list')
    .description('show both schedules: interval, policy, state, next and recent runs')
    .action(() =>
      withSession(program, async (session, globals) => {
        const ids = scheduleIds(session.config);
        const rows: Record<string, unknown>[] = [];
        const table = plainAwareTable([
          'schedule',
          'workflow',
          'every',
          'overlap',
          'state',
          'next run',
          'recent runs',
        ]);
        for (const name of ['crawl', 'report', 'compact', 'reconcile'] as const) {
          try {
            const d = await session.client.schedule.getHandle(ids[name]).describe();
            const every = (d.spec.intervals ?? []).map((i) => `${i.every / 60_000} min`).join(', ');
            const state = d.state.paused ? `paused${d.state.note ? ` (${d.state.note})` : ''}` : 'active';
            const next = d.info.nextActionTimes[0]?.toISOString() ?? '';
            const recent = d.info.recentActions
              .slice(-3)
              .map((a) => `${a.scheduledAt.toISOString()} ${a.action.workflow.workflowId}`)
              .join('\n');
            rows.push({
              name,
              scheduleId: ids[name],
              every,
              overlap: d.policies.overlap,
              state,
              next,
              recent: d.info.recentActions,
            });
            table.push([ids[name], d.action.workflowType, every, d.policies.overlap, state, next, recent]);
          } catch (error) {
            if (!(error instanceof ScheduleNotFoundError)) throw error;
            rows.push({ name, scheduleId: ids[name], missing: true });
            table.push([ids[name], name, '', '', 'not provisioned (run: pipeline provision)', '', '']);
          }
        }
        if (globals.json) return printJson(rows);
        say(table.toString());
      }),
    );

  schedules
    .command('trigger')
    .description("run a schedule's action now (respects its overlap policy)")
    .argument('<schedule>', 'crawl or report', scheduleName)
    .action((name: ControlScheduleName) =>
      withSession(program, async (session) => {
        const id = scheduleIds(session.config)[name];
        await scheduleCall(id, () => triggerSchedule(session.client, id));
        say(`triggered ${id}`);
      }),
    );

  schedules
    .command('pause')
    .description('pause a schedule (provisioning leaves a pause alone)')
    .argument('<schedule>', 'crawl or report', scheduleName)
    .option('--note <text>', 'why', 'paused from the pipeline CLI')
    .action((name: ControlScheduleName, opts: { note: string }) =>
      withSession(program, async (session) => {
        const id = scheduleIds(session.config)[name];
        await scheduleCall(id, () => session.client.schedule.getHandle(id).pause(opts.note));
        say(`paused ${id}`);
      }),
    );

  schedules
    .command('unpause')
    .description('resume a paused schedule')
    .argument('<schedule>', 'crawl or report', scheduleName)
    .action((name: ControlScheduleName) =>
      withSession(program, async (session) => {
        const id = scheduleIds(session.config)[name];
        await scheduleCall(id, () =>
          session.client.schedule.getHandle(id).unpause('unpaused from the pipeline CLI'),
        );
        say(`unpaused ${id}`);
      }),
    );

  schedules
    .command('backfill')
    .description('run the schedule for every action time in a past range (e.g. reports for past hours)')
    .argument('<schedule>', 'crawl or report', scheduleName)
    .requiredOption('--from <iso>', 'start of the range')
    .requiredOption('--to <iso>', 'end of the range')
    .action((name: ControlScheduleName, opts: { from: string; to: string }) =>
      withSession(program, async (session) => {
        const start = new Date(opts.from);
        const end = new Date(opts.to);
        if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime()) || end <= start) {
          throw new CliError(
            'schedules backfill: --from and --to must be ISO times with --from before --to',
            2,
          );
        }
        const id = scheduleIds(session.config)[name];
        await scheduleCall(id, () =>
          session.client.schedule
            .getHandle(id)
            .backfill({ start, end, overlap: ScheduleOverlapPolicy.ALLOW_ALL }),
        );
        say(`backfill of ${id} requested for ${start.toISOString()} – ${end.toISOString()}`);
      }),
    );
}

/**
 * `pipeline cleanup-runs`: what killed bounded runs (`npm start -- --duration N`) left behind. Lists by default;
 * `--delete` deletes. Needs no Temporal and no worker: it talks to Kafka, DynamoDB, S3 and Glue directly.
 */
function addCleanupRunsCommand(program: Command): void {
  program
    .command('cleanup-runs')
    .description(
      'list what bounded runs that were killed left behind (topics, tables, lake prefix, crawler, Glue database); --delete deletes it',
    )
    .option('--delete', 'delete the leftovers (without it, only list them)')
    .option('--run <id...>', 'only these runs (ids as printed by npm start, e.g. 20261125t203000)')
    .action(async (opts: { delete?: boolean; run?: string[] }) => {
      const globals = program.opts<GlobalOptions>();
      const config = loadConfig();
      const deps = { aws: createAwsClients(config), kafka: createKafka(config, 'cleanup-runs') };
      try {
        const runs = (await findRuns(deps, config)).filter((r) => !opts.run || opts.run.includes(r.runId));
        const leftovers = runs.filter((r) => !r.live);
        const deleted = new Map<string, RunResource[]>();
        if (opts.delete)
          for (const run of leftovers) deleted.set(run.runId, await deleteRun(deps, config, run.runId));
        if (globals.json) return printJson(runs.map((r) => ({ ...r, deleted: deleted.get(r.runId) })));
        const table = plainAwareTable(['run', 'state', 'resources']);
        for (const run of runs) {
          const state = run.live ? 'running (kept)' : opts.delete ? 'deleted' : 'leftover';
          table.push([run.runId, state, run.resources.map((r) => `${r.kind} ${r.name}`).join('\n')]);
        }
        if (runs.length === 0) return say('no bounded-run leftovers');
        say(table.toString());
        if (!opts.delete && leftovers.length > 0)
          say(`${leftovers.length} run(s) left over; to delete: npm run pipeline -- cleanup-runs --delete`);
      } finally {
        destroyAwsClients(deps.aws);
      }
    });
}

export function buildProgram(): Command {
  const program = new Command('pipeline')
    .description('Control plane of the orders pipeline: runs the Temporal workflows and shows their results')
    .option('--with-worker', 'run a control-plane worker in this process while the command runs')
    .option('--json', 'print the raw workflow result as JSON on stdout')
    .showHelpAfterError();

  addProvisionCommand(program);
  addCrawlCommand(program);
  addReportCommand(program);
  addQueryCommand(program);
  addBackfillCommand(program);
  addCompactCommand(program);
  addReconcileCommand(program);
  addSchedulesCommand(program);
  addIamCommand(program);
  addCleanupRunsCommand(program);
  return program;
}

async function scheduleCall(id: string, call: () => Promise<unknown>): Promise<void> {
  try {
    await call();
  } catch (error) {
    if (error instanceof ScheduleNotFoundError)
      throw new CliError(`schedule ${id} does not exist (run: pipeline provision)`, 1);
    throw error;
  }
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'commander.helpDisplayed' || code === 'commander.version' || code === 'commander.help')
      return 0;
    if (code?.startsWith('commander.')) return 2;
    if (error instanceof CliError) {
      console.error(`error: ${error.message}`);
      return error.exitCode;
    }
    if (error instanceof ConfigError) {
      console.error(`configuration error: ${error.message}`);
      return 2;
    }
    console.error(`error: ${explainFailure(error)}`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv)
    .then((code) => process.exit(code))
    .catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
}
