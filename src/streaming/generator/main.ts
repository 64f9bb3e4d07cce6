/**
 * The generator process: `tsx src/streaming/generator/main.ts --rate 500 --duration 60 --duplicates 0.02`.
 * Prints the report as one JSON line on stdout when done and exits 0; SIGTERM stops it early (what was
 * acknowledged is reported). `--expected-out FILE` writes the expected final state of every order (JSON lines).
 */
import { writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { ensureTopics, pipelineTopics } from '../../resources/kafka-topics';
import { numberBetween } from '../../support/cli-options';
import { runStreamingProcess } from '../process-context';
import { createGenerator, type GeneratorReport } from './generator';

const program = new Command('generator')
  .description('Generate order lifecycle events onto the orders.events topic')
  .option('--rate <events/s>', 'target rate over all messages (default: flat out)', numberBetween(0))
  .option('--duration <seconds>', 'stop after this many seconds', numberBetween(0))
  .option('--count <events>', 'stop after this many distinct valid events', numberBetween(1))
  .option('--orders <n>', 'stop after this many orders went through their lifecycle', numberBetween(1))
  .option('--concurrent-orders <n>', 'orders open at once (spreads the events of an order)', numberBetween(1))
  .option('--duplicates <p>', 'probability a valid event is sent twice', numberBetween(0, 1), 0)
  .option('--out-of-order <p>', 'probability an event is sent after its successor', numberBetween(0, 1), 0)
  .option(
    '--malformed <p>',
    'probability of a malformed message per event (JSON, schema, oversized)',
    numberBetween(0, 1),
    0,
  )
  .option(
    '--schema-v2-share <p>',
    'share of orders emitted as event schema version 2 (default: GENERATOR_SCHEMA_V2_SHARE)',
    numberBetween(0, 1),
  )
  .option('--batch-size <n>', 'messages per produce request', numberBetween(1, 10_000))
  .option('--seed <n>', 'random seed (same seed, same run)', numberBetween(0))
  .option('--expected-out <file>', 'write the expected final state of each order as JSON lines')
  .parse();

const flags = program.opts<{
  rate?: number;
  duration?: number;
  count?: number;
  orders?: number;
  concurrentOrders?: number;
  duplicates: number;
  outOfOrder: number;
  malformed: number;
  schemaV2Share?: number;
  batchSize?: number;
  seed?: number;
  expectedOut?: string;
}>();
if (flags.duration === undefined && flags.count === undefined && flags.orders === undefined) {
  program.error('give at least one of --duration, --count, --orders');
}

function summary(report: GeneratorReport) {
  const { expectedStates, ...rest } = report;
  return { ...rest, achievedRate: Math.round(report.achievedRate), expectedOrders: expectedStates.size };
}

runStreamingProcess('generator', async ({ config, logger, registry, kafka: watchedKafka }) => {
  const kafka = watchedKafka('generator');
  await ensureTopics(kafka.admin(), pipelineTopics(config));
  const generator = createGenerator({
    config,
    kafka,
    logger,
    registry,
    rate: flags.rate,
    durationMs: flags.duration !== undefined ? flags.duration * 1000 : undefined,
    count: flags.count,
    orders: flags.orders,
    concurrentOrders: flags.concurrentOrders,
    duplicates: flags.duplicates,
    outOfOrder: flags.outOfOrder,
    malformed: flags.malformed,
    schemaV2Share: flags.schemaV2Share,
    batchSize: flags.batchSize,
    seed: flags.seed,
  });
  return {
    start: async () => {
      await generator.start();
      generator.done
        .then((report) => {
          if (flags.expectedOut) {
            const lines = [...report.expectedStates.values()].map((state) => JSON.stringify(state));
            writeFileSync(flags.expectedOut, lines.join('\n') + '\n');
          }
          process.stdout.write(JSON.stringify(summary(report)) + '\n');
          process.exit(0);
        })
        .catch((error: Error) => {
          logger.error({ err: error }, 'generation failed');
          process.exit(1);
        });
    },
    stop: () => generator.stop(),
  };
});
