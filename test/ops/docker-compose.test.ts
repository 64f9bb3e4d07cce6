/**
 * docker-compose.yml serves users with Docker; the local stack serves everyone else. This keeps the two
 * consistent with src/config: the same host ports, only known variable names, and an entry for each
 * pipeline process whose command runs (compiled) the file the main job runs. It also checks what only a
 * Docker engine would reveal: each image's user can write its volumes, everything long-running restarts,
 * the images run compiled code with production dependencies as a non-root user.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ENV_SPEC, LOCAL_HOST, LOCAL_PORTS } from '../../src/config';
import { DEFAULT_PORT, parseLakeArgs } from '../../src/lake-endpoint/main';
import { KAFKA_VERSION, PYTHON_PACKAGES } from '../../src/local/installer';
import {
  ALL_PIPELINE_PROCESSES,
  compiledEntry,
  LAKE_PROCESS,
  WORKER_PROCESS,
} from '../../src/local/pipeline-processes';
import { KAFKA_HEAP } from '../../src/local/services/kafka';
import { readDockerfile } from './support/dockerfile';

interface ComposeService {
  image?: string;
  build?: unknown;
  user?: string;
  restart?: string;
  command?: string[];
  ports?: string[];
  volumes?: string[];
  environment?: Record<string, unknown>;
  healthcheck?: { test: string[] };
  depends_on?: string[] | Record<string, { condition: string }>;
}

/**
 * temporalio/temporal is built FROM scratch with the binary at /temporal and `USER 1000:1000`
 * (temporalio/cli, .github/docker/cli.Dockerfile).
 */
const TEMPORAL_IMAGE_UID = '1000';
const TEMPORAL_IMAGE_BINARY = '/temporal';

const root = join(__dirname, '..', '..');
const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, ComposeService>;
};
const services = compose.services;

function hostPorts(service: ComposeService): number[] {
  return (service.ports ?? []).map((mapping) => {
    const [host, hostPort] = mapping.split(':');
    expect(host).toBe(LOCAL_HOST);
    return Number(hostPort);
  });
}

describe('docker-compose.yml', () => {
  it('publishes the same ports as the local stack, on 127.0.0.1 only', () => {
    expect(hostPorts(services.temporal).sort()).toEqual(
      [LOCAL_PORTS.temporal, LOCAL_PORTS.temporalUi].sort(),
    );
    expect(hostPorts(services.kafka)).toEqual([LOCAL_PORTS.kafka]);
    expect(hostPorts(services.moto)).toEqual([LOCAL_PORTS.moto]);
    expect(hostPorts(services.lake)).toEqual([LOCAL_PORTS.lake]);
  });

  it("uses only variable names the config knows, besides a process's own runtime environment", () => {
    for (const [name, service] of Object.entries(services)) {
      if (!service.build) continue;
      const runtime = ALL_PIPELINE_PROCESSES.find((p) => p.name === name)?.env ?? {};
      const unknown = Object.keys(service.environment ?? {}).filter(
        (key) => !(key in ENV_SPEC) && !(key in runtime),
      );
      expect({ service: name, unknown }).toEqual({ service: name, unknown: [] });
    }
  });

  it('gives each pipeline process the runtime environment the local stack gives it (the worker: glibc malloc)', () => {
    expect(Object.keys(WORKER_PROCESS.env ?? {})).toContain('MALLOC_ARENA_MAX');
    for (const processSpec of ALL_PIPELINE_PROCESSES) {
      const environment = services[processSpec.name].environment ?? {};
      const runtime = Object.fromEntries(
        Object.keys(processSpec.env ?? {}).map((key) => [key, String(environment[key])]),
      );
      expect({ process: processSpec.name, env: runtime }).toEqual({
        process: processSpec.name,
        env: processSpec.env ?? {},
      });
    }
  });

  it('runs every pipeline process from the same entry file as the local stack', () => {
    for (const processSpec of ALL_PIPELINE_PROCESSES) {
      const service = services[processSpec.name];
      expect(service).toBeDefined();
      expect(service.command?.slice(0, 2)).toEqual(['node', compiledEntry(processSpec.entry)]);
      expect(existsSync(join(root, processSpec.entry))).toBe(true);
    }
  });

  it('points the pipeline at the in-network service addresses on the local ports', () => {
    const env = services.worker.environment ?? {};
    expect(env.AWS_ENDPOINT_URL_S3).toBe(`http://moto:${LOCAL_PORTS.moto}`);
    expect(env.AWS_ENDPOINT_URL_GLUE).toBe(`http://lake:${LOCAL_PORTS.lake}`);
    expect(env.TEMPORAL_ADDRESS).toBe(`temporal:${LOCAL_PORTS.temporal}`);
  });

  it('runs the versions the local stack installs', () => {
    const pinned = (spec: string) => spec.split('==')[1];
    expect(services.temporal.image).toBe(`temporalio/temporal:${pinned(PYTHON_PACKAGES.temporal)}`);
    expect(services.kafka.image).toBe(`apache/kafka:${KAFKA_VERSION}`);
    // The image's kafka-run-class.sh takes its JVM heap from KAFKA_HEAP_OPTS.
    expect(services.kafka.environment?.KAFKA_HEAP_OPTS).toBe(KAFKA_HEAP.join(' '));
    expect(services.moto.image).toBe(`motoserver/moto:${pinned(PYTHON_PACKAGES.moto)}`);
  });

  it('has the lake endpoint listen on the network inside its container, the only way the worker reaches it', () => {
    const args = services.lake.command!.slice(
      services.lake.command!.indexOf(compiledEntry(LAKE_PROCESS.entry)) + 1,
    );
    expect(parseLakeArgs(args)).toEqual({ host: '0.0.0.0' });
    // Outside a container (the local stack) it keeps to the loopback, and refuses what is not an address.
    expect(parseLakeArgs([])).toEqual({ host: LOCAL_HOST });
    expect(() => parseLakeArgs(['--host', 'everywhere'])).toThrow('expected an IP address, got "everywhere"');
  });

  it('has the lake endpoint on the lake port of the local stack by default (compose passes no --port)', () => {
    // The endpoint cannot import the pipeline's config, so its default is a copy: this keeps the two equal.
    expect(DEFAULT_PORT).toBe(LOCAL_PORTS.lake);
    expect(services.lake.ports).toContain(`${LOCAL_HOST}:${LOCAL_PORTS.lake}:${DEFAULT_PORT}`);
  });

  const dockerfile = readDockerfile(root);
  const built = Object.entries(services).filter(([, service]) => service.build);

  it('gives every named volume to the user of the image that mounts it', () => {
    for (const [name, service] of built) {
      for (const volume of service.volumes ?? []) {
        const mountedAt = volume.split(':')[1];
        expect({ service: name, mountedAt, owned: dockerfile.ownedByUser.includes(mountedAt) }).toEqual({
          service: name,
          mountedAt,
          owned: true,
        });
      }
    }
    // Temporal's image runs as uid 1000 and has no /data: a one-shot container chowns the volume first.
    const owner = Object.values(services).find((service) => service.command?.[0] === 'chown')!;
    expect(owner.command).toEqual(['chown', '-R', `${TEMPORAL_IMAGE_UID}:${TEMPORAL_IMAGE_UID}`, '/data']);
    expect(owner.volumes).toEqual(services.temporal.volumes);
    const ownerName = Object.keys(services).find((name) => services[name] === owner)!;
    expect(services.temporal.depends_on).toMatchObject({
      [ownerName]: { condition: 'service_completed_successfully' },
    });
    expect(services.temporal.healthcheck?.test[1]).toBe(TEMPORAL_IMAGE_BINARY);
  });

  it('restarts every long-running service', () => {
    for (const [name, service] of Object.entries(services)) {
      if (service.command?.[0] === 'chown') continue;
      expect({ service: name, restart: service.restart }).toEqual({
        service: name,
        restart: expect.stringMatching(/^(on-failure|unless-stopped|always)$/),
      });
    }
  });

  it('builds an image that runs compiled code, production dependencies only, as a non-root user', () => {
    expect(dockerfile.stages.length).toBeGreaterThanOrEqual(2);
    const final = dockerfile.stages[dockerfile.stages.length - 1];
    // Node 26 is the Active LTS line since 2026-10-28; every stage builds on the same image.
    for (const stage of dockerfile.stages) expect(stage.image).toMatch(/^node:26-[a-z]+-slim$/);
    expect(final.instructions.some((line) => line.includes('tsx'))).toBe(false);
    const depsStage = final.instructions
      .find((line) => line.startsWith('COPY --from=') && line.includes('node_modules'))!
      .split(/\s+/)[1]
      .slice('--from='.length);
    const deps = dockerfile.stages.find((stage) => stage.name === depsStage)!;
    expect(deps.instructions).toContain('RUN npm ci --omit=dev --no-audit --no-fund');
    expect(['', 'root', '0']).not.toContain(dockerfile.user);
    expect(dockerfile.cmd).toEqual(['node', compiledEntry('src/workers/control-plane-worker.ts')]);
  });

  it('compiles src/ to dist/ the way the image runs it (reports/ found beside dist/)', () => {
    const build = JSON.parse(readFileSync(join(root, 'tsconfig.build.json'), 'utf8')) as {
      compilerOptions: { rootDir: string; outDir: string };
    };
    expect(build.compilerOptions).toMatchObject({ rootDir: 'src', outDir: 'dist' });
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    expect(pkg.scripts.build).toBe('tsc -p tsconfig.build.json');
  });

  it('probes /healthz on a fixed metrics port, listening on every interface of the container', () => {
    expect(dockerfile.env.METRICS_HOST).toBe('0.0.0.0');
    expect(Number(dockerfile.env.METRICS_PORT)).toBeGreaterThan(0);
    expect(dockerfile.healthcheck).toContain('CMD ["node", "scripts/http-probe.js"]');
    expect(readFileSync(join(root, 'scripts', 'http-probe.js'), 'utf8')).toContain(
      '`http://127.0.0.1:${process.env.METRICS_PORT}/healthz`',
    );
    // The lake endpoint shares the image but answers /health on its own port.
    expect(services.lake.healthcheck?.test).toEqual([
      'CMD',
      'node',
      'scripts/http-probe.js',
      `http://127.0.0.1:${DEFAULT_PORT}/health`,
    ]);
  });

  it('runs only entry points that exist, at the paths the build emits', () => {
    for (const [name, service] of built) {
      const entry = service.command![1];
      const source = entry.replace(/^dist\//, 'src/').replace(/\.js$/, '.ts');
      expect({
        service: name,
        entry,
        compiled: compiledEntry(source) === entry && existsSync(join(root, source)),
      }).toEqual({
        service: name,
        entry,
        compiled: true,
      });
    }
  });
});
