/**
 * `npm run stack -- up|down|status|install [service...]` and `npm test` (`test [jest args]`).
 *
 * Services: temporal, kafka, moto, lake (the Glue + Athena endpoint, src/lake-endpoint).
 * Every port and directory comes from the config (see src/local/ports.ts), so a second stack on other ports
 * only needs other environment variables.
 */
import { Command } from 'commander';
import { loadConfig } from '../config';
import { FALLBACKS, type Fallback } from '../local/installer';
import {
  installStack,
  stackStatus,
  startStack,
  stopStack,
  type ServiceStatus,
  type StackEvent,
} from '../local/supervisor';
import { runTests } from '../local/test-runner';
import { createPipelineServices } from '../local/services/pipeline';

const report = ({ service, message }: StackEvent) => console.log(`${service.padEnd(9)} ${message}`);

function printStatus(statuses: ServiceStatus[]): void {
  for (const s of statuses) {
    const who = s.pid ? ` pid ${s.pid}${s.owner ? `, started by ${s.owner}` : ''}` : '';
    console.log(`${s.name.padEnd(9)} ${s.state}${who}`);
    for (const address of s.state === 'unavailable' ? [] : s.addresses) console.log(`          ${address}`);
    if (s.detail) console.log(`          ${s.detail}`);
    if (s.state !== 'unavailable' && s.state !== 'external') console.log(`          log: ${s.logFile}`);
  }
}

async function run(argv: string[]): Promise<number> {
  let exitCode = 0;
  const program = new Command('stack').description(
    'The local stack: Temporal, Kafka, moto, the lake endpoint',
  );

  program
    .command('up')
    .description('install what is missing, start the services (all by default) and wait until they are ready')
    .argument('[services...]')
    .option('--headless', 'Temporal without the Web UI')
    .option('--owner <name>', 'recorded in pid files (down --owner stops only these)', 'cli')
    .action(async (services: string[], opts: { headless?: boolean; owner: string }) => {
      const handle = await startStack(loadConfig(), services, {
        headless: opts.headless,
        owner: opts.owner,
        report,
      });
      console.log(
        `install ${(handle.timings.installMs / 1000).toFixed(1)} s, start ${(handle.timings.startMs / 1000).toFixed(1)} s`,
      );
    });

  program
    .command('down')
    .description('stop the services this stack started (all by default); others are left running')
    .argument('[services...]')
    .option('--owner <name>', 'only services started by this owner (e.g. `test`)')
    .action(async (services: string[], opts: { owner?: string }) => {
      // The pipeline's processes too (started by `npm start`): they stop before the servers they use.
      await stopStack(loadConfig(), services, {
        owner: opts.owner,
        report,
        extraServices: (ctx) => createPipelineServices(ctx),
      });
    });

  program
    .command('status')
    .description('state, pid, addresses and log file of each service')
    .argument('[services...]')
    .option('--json', 'machine-readable')
    .action(async (services: string[], opts: { json?: boolean }) => {
      const statuses = await stackStatus(loadConfig(), services, {
        extraServices: (ctx) => createPipelineServices(ctx),
      });
      if (opts.json) console.log(JSON.stringify(statuses, null, 2));
      else printStatus(statuses);
      if (statuses.some((s) => s.state === 'blocked' || s.state === 'not-ready')) exitCode = 1;
    });

  program
    .command('install')
    .description('install the tools the services need (Python venv, Kafka jars) without starting anything')
    .argument('[services...]')
    .option(
      '--force-fallback <which...>',
      `install these Temporal binaries from their fallback source (${FALLBACKS.join(', ')}: go install, Maven)`,
    )
    .action(async (services: string[], opts: { forceFallback?: string[] }) => {
      const unknown = (opts.forceFallback ?? []).filter((f) => !(FALLBACKS as readonly string[]).includes(f));
      if (unknown.length > 0)
        throw new Error(`unknown fallback(s) ${unknown.join(', ')} (known: ${FALLBACKS.join(', ')})`);
      const started = Date.now();
      const installed = await installStack(loadConfig(), services, {
        report,
        install: { forceFallbacks: opts.forceFallback as Fallback[] | undefined },
      });
      const took = ((Date.now() - started) / 1000).toFixed(1);
      console.log(
        installed.length > 0
          ? `installed ${installed.join(', ')} in ${took} s`
          : `already installed (${took} s)`,
      );
    });

  program
    .command('test')
    .description('ensure the stack is up, run jest against it (arguments go to jest), stop what it started')
    .argument('[jestArgs...]')
    .allowUnknownOption()
    .helpOption(false)
    .action(async (jestArgs: string[]) => {
      exitCode = await runTests(jestArgs);
    });

  await program.parseAsync(argv);
  return exitCode;
}

run(process.argv)
  .then((code) => process.exit(code))
  .catch((error: Error) => {
    console.error(`${error.name}: ${error.message}`);
    process.exit(1);
  });
