/**
 * `npm start`'s command line, and whether it runs the synthetic generator: always on the local stack and in a
 * bounded run (its own run-scoped topics), but against AWS only when asked with `--generate [events/s]`, so
 * starting the pipeline never writes made-up orders into a real topic by accident.
 *
 * @example
 *   generatorRate(parseMainOptions(['node', 'main']), 'aws'); // undefined: no generator
 *   generatorRate(parseMainOptions(['node', 'main', '--generate', '20']), 'aws'); // 20
 */
import { Command } from 'commander';
import type { Config } from '../../config';
import { numberBetween } from '../../support/cli-options';

export interface MainOptions {
  duration?: number;
  rate: number;
  /** `--generate` alone is `true` (at `--rate`); `--generate 20` is the rate. */
  generate?: number | true;
  duplicates: number;
  outOfOrder: number;
  malformed: number;
  statusInterval: number;
  keep?: boolean;
}

export function parseMainOptions(argv: string[]): MainOptions {
  return new Command('npm start')
    .description('Run the order pipeline locally (or against AWS with PIPELINE_MODE=aws)')
    .option(
      '--duration <seconds>',
      'generate for this long, drain, crawl, report, check every count and exit',
      numberBetween(1),
    )
    .option('--rate <events/s>', 'generator rate', numberBetween(1), 50)
    .option(
      '--generate [events/s]',
      'run the synthetic generator (always on locally; against AWS only with this flag), at this rate or --rate',
      numberBetween(1),
    )
    .option('--duplicates <p>', 'share of events the generator sends twice', numberBetween(0, 1), 0.01)
    .option('--out-of-order <p>', 'share of events sent after their successor', numberBetween(0, 1), 0.02)
    .option(
      '--malformed <p>',
      'share of malformed messages (they go to the dead-letter topic)',
      numberBetween(0, 1),
      0.005,
    )
    .option('--status-interval <seconds>', 'how often the live status refreshes', numberBetween(1), 2)
    .option(
      '--keep',
      'a bounded run keeps what it created (its topics, tables, lake prefix, crawler, Glue database)',
    )
    .parse(argv)
    .opts<MainOptions>();
}

/** The generator's rate, or undefined when this run must not generate. */
export function generatorRate(options: MainOptions, mode: Config['mode']): number | undefined {
  const asked = options.generate !== undefined;
  if (!asked && mode === 'aws' && options.duration === undefined) return undefined;
  return typeof options.generate === 'number' ? options.generate : options.rate;
}
