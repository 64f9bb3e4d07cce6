/**
 * docker-compose.yml serves users with Docker; the local stack serves everyone else. This keeps the two
 * consistent with src/config: the same host ports, only known variable names, and an entry for each
 * pipeline process whose command runs the file the main job runs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ENV_SPEC, LOCAL_HOST, LOCAL_PORTS } from '../../src/config';
import { DEFAULT_PORT, parseLakeArgs } from '../../src/lake-endpoint/main';
import { KAFKA_VERSION, PYTHON_PACKAGES } from '../../src/local/installer';
import { ALL_PIPELINE_PROCESSES } from '../../src/local/pipeline-processes';

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  ports?: string[];
  environment?: Record<string, unknown>;
}

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

  it('uses only variable names the config knows', () => {
    for (const [name, service] of Object.entries(services)) {
      if (!service.build) continue;
      const unknown = Object.keys(service.environment ?? {}).filter((key) => !(key in ENV_SPEC));
      expect({ service: name, unknown }).toEqual({ service: name, unknown: [] });
    }
  });

  it('runs every pipeline process from the same entry file as the local stack', () => {
    for (const processSpec of ALL_PIPELINE_PROCESSES) {
      const service = services[processSpec.name];
      expect(service).toBeDefined();
      expect(service.command).toContain(processSpec.entry);
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
    expect(services.moto.image).toBe(`motoserver/moto:${pinned(PYTHON_PACKAGES.moto)}`);
  });

  it('has the lake endpoint listen on the network inside its container, the only way the worker reaches it', () => {
    const args = services.lake.command!.slice(
      services.lake.command!.indexOf('src/lake-endpoint/main.ts') + 1,
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
});
