/**
 * The pipeline's own long-running processes: one list that the main job, the supervisor and the
 * docker-compose consistency test share.
 */
export interface PipelineProcess {
  /** Name used for logs, pid files and the docker-compose service. */
  name: string;
  /** Entry point, relative to the repository root, run with tsx. */
  entry: string;
  /** Arguments its supervisor passes on the command line. */
  args?: string[];
  /**
   * Environment of its runtime (not pipeline settings, which come from the config): set by the local stack,
   * docker-compose.yml and the Kubernetes manifests alike.
   */
  env?: Record<string, string>;
}

/**
 * glibc's malloc for the worker. Its reconciliations and compactions allocate hundreds of MB of short-lived
 * native buffers (HTTP bodies, S3 objects) from many threads; with glibc's defaults the freed memory stays in up
 * to 8 arenas per core, and the dynamic mmap threshold moves large buffers onto heaps that cannot shrink past a
 * chunk still in use, so every hourly reconciliation left the worker tens of MB larger (the 150 events/s soak).
 * Two arenas and a fixed threshold (buffers of 128 KiB and more are mapped and unmapped on their own): measured in
 * bench/worker-memory-bench.ts.
 */
export const WORKER_MALLOC_ENV: Record<string, string> = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '131072',
};

export const WORKER_PROCESS: PipelineProcess = {
  name: 'worker',
  entry: 'src/workers/control-plane-worker.ts',
  env: WORKER_MALLOC_ENV,
};

export const STREAMING_PROCESSES: PipelineProcess[] = [
  { name: 'dynamo-sink', entry: 'src/streaming/dynamo-sink/main.ts' },
  { name: 'cdc-relay', entry: 'src/streaming/cdc-relay/main.ts' },
  { name: 's3-sink', entry: 'src/streaming/s3-sink/main.ts' },
];

export const GENERATOR_PROCESS: PipelineProcess = {
  name: 'generator',
  entry: 'src/streaming/generator/main.ts',
};

/** Its command line (port, data dir, log level) comes from the config: see services/lake.ts. */
export const LAKE_PROCESS: PipelineProcess = { name: 'lake', entry: 'src/lake-endpoint/main.ts' };

/**
 * Where `npm run build` (tsconfig.build.json: src/ → dist/) puts an entry point: what the container image runs
 * with `node`.
 *
 * @example
 *   compiledEntry('src/streaming/s3-sink/main.ts'); // 'dist/streaming/s3-sink/main.js'
 */
export function compiledEntry(entry: string): string {
  return entry.replace(/^src\//, 'dist/').replace(/\.ts$/, '.js');
}

export const ALL_PIPELINE_PROCESSES = [
  WORKER_PROCESS,
  ...STREAMING_PROCESSES,
  GENERATOR_PROCESS,
  LAKE_PROCESS,
];
