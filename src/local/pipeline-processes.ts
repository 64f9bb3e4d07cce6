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
}

export const WORKER_PROCESS: PipelineProcess = {
  name: 'worker',
  entry: 'src/workers/control-plane-worker.ts',
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
