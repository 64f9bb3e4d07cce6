/**
 * `npm test`: makes sure the stack is installed and up (starting only what is not already running), runs jest
 * against it, stops only what it started, and ends with jest's totals as one plain line:
 * `N passed, N failed` (`, N skipped` when there are skipped or todo tests). Exits with jest's code.
 *
 * While jest runs, a watchdog checks the stack's endpoints: a service that stops answering ends the run at once
 * with its name (instead of every remaining file timing out). Afterwards the per-file times are written to
 * `<DATA_DIR>/test-results/timings.tsv` (slowest first) and the slowest ten are printed.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { loadConfig } from '../config';
import { PROJECT_ROOT, stackPaths } from './paths';
import { stackEndpoints } from './ports';
import { watchStack } from './stack-watchdog';
import { startStack, type StackEvent } from './supervisor';

/** The fields of jest's `--json` result this runner reads. */
interface JestTotals {
  testResults: { name: string; startTime: number; endTime: number }[];
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  numFailedTestSuites: number;
  numRuntimeErrorTestSuites: number;
  numTotalTestSuites: number;
}

export function totalsLine(totals: JestTotals): string {
  const skipped = totals.numPendingTests + totals.numTodoTests;
  return `${totals.numPassedTests} passed, ${totals.numFailedTests} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`;
}

/** Seconds per test file, slowest first, with paths relative to the repository. */
export function fileTimings(totals: Pick<JestTotals, 'testResults'>): { file: string; seconds: number }[] {
  return totals.testResults
    .map(({ name, startTime, endTime }) => ({
      file: relative(PROJECT_ROOT, name),
      seconds: (endTime - startTime) / 1000,
    }))
    .sort((a, b) => b.seconds - a.seconds);
}

/** How long jest gets to finish its teardown after the stack was lost, before it is killed. */
const STOP_GRACE_MS = 30_000;

function runJest(
  args: string[],
  outputFile: string,
): { exit: Promise<number>; kill: (signal: NodeJS.Signals) => void } {
  const child = spawn(
    process.execPath,
    [require.resolve('jest/bin/jest'), '--json', `--outputFile=${outputFile}`, ...args],
    { cwd: PROJECT_ROOT, stdio: 'inherit', env: process.env },
  );
  const exit = new Promise<number>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
    child.once('error', () => resolve(1));
  });
  return { exit, kill: (signal) => child.kill(signal) };
}

export async function runTests(jestArgs: string[]): Promise<number> {
  const config = loadConfig();
  const print = (line: string) => console.log(`[npm test] ${line}`);
  const report = ({ service, message }: StackEvent) => print(`${service}: ${message}`);

  const started = Date.now();
  const stack = await startStack(config, undefined, { owner: 'test', headless: true, report });
  print(
    `stack ready in ${((Date.now() - started) / 1000).toFixed(1)} s ` +
      `(install ${(stack.timings.installMs / 1000).toFixed(1)} s, start ${(stack.timings.startMs / 1000).toFixed(1)} s); ` +
      `started here: ${stack.started.join(', ') || 'nothing (already up)'}`,
  );

  const resultsDir = join(stackPaths(config).dataDir, 'test-results');
  mkdirSync(resultsDir, { recursive: true });
  const outputFile = join(resultsDir, 'jest.json');
  rmSync(outputFile, { force: true });

  const jest = runJest(jestArgs, outputFile);
  let stackLost: string | undefined;
  const endpoints = stackEndpoints(config);
  const watched = (['temporal', 'kafka', 'moto', 'lake'] as const).flatMap((name) => {
    const endpoint = endpoints[name];
    return endpoint?.local ? [{ name, host: endpoint.host, port: endpoint.port }] : [];
  });
  const watchdog = watchStack(watched, {
    onLost: (_endpoint, detail) => {
      stackLost = detail;
      print(`stack lost: ${detail}; stopping jest (the remaining tests cannot pass)`);
      jest.kill('SIGTERM');
      setTimeout(() => jest.kill('SIGKILL'), STOP_GRACE_MS).unref();
    },
  });
  // Ctrl-C or a CI timeout: let jest finish its teardown, then the stack is stopped in `finally`.
  const forward = (signal: NodeJS.Signals) => jest.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  let code: number;
  try {
    code = await jest.exit;
  } finally {
    watchdog.stop();
    process.off('SIGINT', forward);
    process.off('SIGTERM', forward);
    if (stack.started.length > 0) print(`stopping what this run started: ${stack.started.join(', ')}`);
    await stack.stopStarted();
  }

  if (stackLost) console.log(`stack lost during the run: ${stackLost}`);
  if (!existsSync(outputFile)) {
    console.log(`jest wrote no results (exit code ${code})`);
    return code === 0 ? 1 : code;
  }
  const totals = JSON.parse(readFileSync(outputFile, 'utf8')) as JestTotals;
  const timings = fileTimings(totals);
  writeFileSync(
    join(resultsDir, 'timings.tsv'),
    timings.map(({ file, seconds }) => `${seconds.toFixed(1)}\t${file}\n`).join(''),
  );
  console.log('slowest test files (s):');
  for (const { file, seconds } of timings.slice(0, 10))
    console.log(`  ${seconds.toFixed(1).padStart(6)}  ${file}`);
  const brokenSuites = totals.numRuntimeErrorTestSuites;
  if (brokenSuites > 0)
    console.log(`${brokenSuites} of ${totals.numTotalTestSuites} test suites failed to run`);
  console.log(totalsLine(totals));
  return stackLost ? 1 : code;
}
