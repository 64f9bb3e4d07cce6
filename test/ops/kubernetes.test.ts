/**
 * deploy/kubernetes: a kustomize base and two overlays. With no kustomize binary and no cluster here, this test
 * renders each overlay the way kustomize does for what the overlays use (resources, namespace, images, replicas,
 * labels, strategic-merge patches), validates every object offline against the schemas of kubernetes-models,
 * @kubernetes-models/keda and @kubernetes-models/prometheus-operator, and checks the manifests against the code:
 * entry points, probes on the metrics port, grace periods that cover each process's drain, memory from measured
 * RSS, secrets only by reference, KEDA on the right consumer groups and topics, one IAM role per process.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, parse } from 'yaml';
import { ENV_SPEC, loadConfig, withOverrides } from '../../src/config';
import { dynamoSinkGroupId } from '../../src/streaming/dynamo-sink/dynamo-sink';
import { s3SinkGroupId } from '../../src/streaming/s3-sink/s3-sink';
import { iamContext, pipelinePolicies } from '../../src/aws/iam/policies';
import {
  compiledEntry,
  STREAMING_PROCESSES,
  WORKER_PROCESS,
  type PipelineProcess,
} from '../../src/local/pipeline-processes';
import { readDockerfile } from './support/dockerfile';

type KubeObject = {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  spec?: any;
  data?: Record<string, string>;
};

interface Kustomization {
  namespace?: string;
  resources?: string[];
  images?: { name: string; newName?: string; newTag?: string }[];
  replicas?: { name: string; count: number }[];
  labels?: { pairs: Record<string, string>; includeSelectors?: boolean; includeTemplates?: boolean }[];
  patches?: { path: string }[];
}

const root = join(__dirname, '..', '..');
const kustomizeRoot = join(root, 'deploy', 'kubernetes');

const readDocs = (file: string): KubeObject[] =>
  parseAllDocuments(readFileSync(file, 'utf8'))
    .map((doc) => doc.toJS() as KubeObject | null)
    .filter((doc): doc is KubeObject => doc !== null);

/** Strategic merge as kustomize applies it here: maps merge, lists of named items merge by name, others replace. */
function merge(base: unknown, patch: unknown): unknown {
  if (Array.isArray(base) && Array.isArray(patch)) {
    const named = (list: unknown[]) =>
      list.every((item) => typeof item === 'object' && item && 'name' in item);
    if (!named(base) || !named(patch)) return patch;
    const out = base.map((item) => {
      const match = patch.find((p) => (p as { name: string }).name === (item as { name: string }).name);
      return match ? merge(item, match) : item;
    });
    for (const item of patch)
      if (!base.some((b) => (b as { name: string }).name === (item as { name: string }).name)) out.push(item);
    return out;
  }
  if (typeof base === 'object' && base && typeof patch === 'object' && patch && !Array.isArray(patch)) {
    const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
    for (const [key, value] of Object.entries(patch)) out[key] = merge(out[key], value);
    return out;
  }
  return patch;
}

function render(dir: string): KubeObject[] {
  const kustomization = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as Kustomization;
  let objects = (kustomization.resources ?? []).flatMap((resource) => {
    const path = join(dir, resource);
    return statSync(path).isDirectory() ? render(path) : readDocs(path);
  });
  for (const { path } of kustomization.patches ?? []) {
    for (const patch of readDocs(join(dir, path))) {
      const index = objects.findIndex(
        (o) => o.kind === patch.kind && o.metadata.name === patch.metadata.name,
      );
      expect({ patch: `${patch.kind}/${patch.metadata.name}`, found: index >= 0 }).toEqual({
        patch: `${patch.kind}/${patch.metadata.name}`,
        found: true,
      });
      objects[index] = merge(objects[index], patch) as KubeObject;
    }
  }
  objects = objects.map((object) => structuredClone(object));
  for (const object of objects) {
    if (kustomization.namespace) object.metadata.namespace = kustomization.namespace;
    for (const { pairs, includeSelectors, includeTemplates } of kustomization.labels ?? []) {
      object.metadata.labels = { ...object.metadata.labels, ...pairs };
      if (includeSelectors && object.spec?.selector?.matchLabels)
        object.spec.selector.matchLabels = { ...object.spec.selector.matchLabels, ...pairs };
      if (includeTemplates && object.spec?.template)
        object.spec.template.metadata.labels = { ...object.spec.template.metadata.labels, ...pairs };
    }
    if (object.kind !== 'Deployment') continue;
    const replicas = kustomization.replicas?.find((r) => r.name === object.metadata.name);
    if (replicas) object.spec.replicas = replicas.count;
    for (const container of object.spec.template.spec.containers as { image: string }[]) {
      const image = kustomization.images?.find((i) => i.name === container.image.split(':')[0]);
      if (image) container.image = `${image.newName ?? image.name}:${image.newTag ?? 'latest'}`;
    }
  }
  return objects;
}

const renderings = {
  base: render(join(kustomizeRoot, 'base')),
  local: render(join(kustomizeRoot, 'overlays', 'local')),
  aws: render(join(kustomizeRoot, 'overlays', 'aws')),
};
type Rendering = keyof typeof renderings;
const variants = Object.keys(renderings) as Rendering[];

const find = (objects: KubeObject[], kind: string, name: string) =>
  objects.find((o) => o.kind === kind && o.metadata.name === name);
const configOf = (objects: KubeObject[]) => find(objects, 'ConfigMap', 'orders-pipeline-config')!.data!;
const containerOf = (deployment: KubeObject) => deployment.spec.template.spec.containers[0];
const subset = (small: Record<string, string>, big: Record<string, string>) =>
  Object.entries(small).every(([key, value]) => big[key] === value);

const DEPLOYED: PipelineProcess[] = [WORKER_PROCESS, ...STREAMING_PROCESSES];

/**
 * Variables the parallel operations branch adds to src/config (Temporal's envconfig conventions and the metrics
 * address); known to the processes once it lands.
 */
const AGREED_VARIABLES = [
  'METRICS_HOST',
  'TEMPORAL_API_KEY',
  'TEMPORAL_TLS',
  'TEMPORAL_TLS_CLIENT_CERT_PATH',
  'TEMPORAL_TLS_CLIENT_KEY_PATH',
  'TEMPORAL_PROFILE',
  'TEMPORAL_CONFIG_FILE',
];

/** RSS measured with `ps` on the shared stack (2026-12-06, 50 events/s, load average 20-25), in MiB. */
const MEASURED_RSS_MIB: Record<string, { steady: number; peak: number }> = {
  // The peak: the hourly reconciliation of 219,180 orders in the 150 events/s soak (README › Soak).
  worker: { steady: 304, peak: 760 },
  'dynamo-sink': { steady: 119, peak: 170 },
  'cdc-relay': { steady: 88, peak: 127 },
  // The peak is the README benchmark's, draining a 200k backlog.
  's3-sink': { steady: 129, peak: 396 },
};

/**
 * How long each process may take to stop, from its shutdown path: the bound the code puts on the work in hand plus
 * one AWS request (AWS_REQUEST_TIMEOUT_MS), which is what a last write, upload or checkpoint may take.
 */
function drainSeconds(name: string): number {
  const code = (file: string) => readFileSync(join(root, file), 'utf8');
  const requestTimeout = loadConfig({}).aws.requestTimeoutMs / 1000;
  switch (name) {
    case 'worker':
      return Number(
        /shutdownGraceTime \?\? '(\d+) seconds'/.exec(code('src/workers/control-plane-worker.ts'))![1],
      );
    case 's3-sink':
      return (
        Number(
          /batches\.settle\(([\d_]+)\)/.exec(code('src/streaming/s3-sink/s3-sink.ts'))![1].replace(/_/g, ''),
        ) /
          1000 +
        requestTimeout
      );
    default:
      return requestTimeout;
  }
}

const mebibytes = (quantity: string) => {
  const [, value, unit] = /^(\d+)(Mi|Gi)$/.exec(quantity)!;
  return Number(value) * (unit === 'Gi' ? 1024 : 1);
};

describe('Kubernetes manifests (deploy/kubernetes)', () => {
  it.each(variants)('%s: every object is valid against its schema, offline', (variant) => {
    const results = JSON.parse(
      execFileSync('node', [join(__dirname, 'support', 'validate-manifests.mjs')], {
        input: JSON.stringify(renderings[variant]),
        cwd: root,
      }).toString(),
    ) as { kind: string; name: string; error: string | null }[];
    expect(results.length).toBe(renderings[variant].length);
    expect(results.filter((r) => r.error !== null)).toEqual([]);
  });

  it('the validator rejects an invalid object (the check itself works)', () => {
    const invalid = structuredClone(find(renderings.base, 'Deployment', 'worker')!);
    containerOf(invalid).ports[0].containerPort = 'metrics';
    const [result] = JSON.parse(
      execFileSync('node', [join(__dirname, 'support', 'validate-manifests.mjs')], {
        input: JSON.stringify([invalid]),
        cwd: root,
      }).toString(),
    ) as { error: string | null }[];
    expect(result.error).toContain('containerPort must be integer');
  });

  it.each(variants)(
    '%s: runs each process alone from its compiled entry point, with its own ServiceAccount',
    (v) => {
      const objects = renderings[v];
      for (const process of DEPLOYED) {
        const deployment = find(objects, 'Deployment', process.name)!;
        expect(containerOf(deployment).command).toEqual(['node', compiledEntry(process.entry)]);
        const account = deployment.spec.template.spec.serviceAccountName as string;
        expect(find(objects, 'ServiceAccount', account)).toBeDefined();
      }
    },
  );

  it.each(variants)(
    '%s: probes /healthz and /readyz on the image’s metrics port, which Prometheus scrapes',
    (v) => {
      const metricsPort = Number(readDockerfile(root).env.METRICS_PORT);
      const objects = renderings[v];
      const podMonitor = find(objects, 'PodMonitor', 'orders-pipeline')!;
      for (const process of DEPLOYED) {
        const deployment = find(objects, 'Deployment', process.name)!;
        const container = containerOf(deployment);
        expect(container.ports).toEqual([{ name: 'metrics', containerPort: metricsPort }]);
        expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
        expect(container.startupProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
        expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
        const template = deployment.spec.template.metadata;
        expect(template.annotations).toMatchObject({
          'prometheus.io/scrape': 'true',
          'prometheus.io/port': String(metricsPort),
          'prometheus.io/path': '/metrics',
        });
        expect(subset(podMonitor.spec.selector.matchLabels, template.labels)).toBe(true);
        expect(subset(deployment.spec.selector.matchLabels, template.labels)).toBe(true);
      }
      expect(podMonitor.spec.podMetricsEndpoints).toEqual([
        { port: 'metrics', path: '/metrics', interval: '15s' },
      ]);
    },
  );

  it.each(variants)('%s: gives each process a PodDisruptionBudget over its own pods', (v) => {
    const objects = renderings[v];
    for (const process of DEPLOYED) {
      const deployment = find(objects, 'Deployment', process.name)!;
      const budget = find(objects, 'PodDisruptionBudget', process.name)!;
      expect(budget.spec.maxUnavailable).toBe(1);
      expect(subset(budget.spec.selector.matchLabels, deployment.spec.template.metadata.labels)).toBe(true);
      const others = DEPLOYED.filter((p) => p !== process).map((p) => find(objects, 'Deployment', p.name)!);
      for (const other of others)
        expect(subset(budget.spec.selector.matchLabels, other.spec.template.metadata.labels)).toBe(false);
    }
  });

  it('waits long enough for each process to drain before killing it', () => {
    for (const process of DEPLOYED) {
      const grace = find(renderings.base, 'Deployment', process.name)!.spec.template.spec
        .terminationGracePeriodSeconds as number;
      expect({ process: process.name, covers: grace >= drainSeconds(process.name) + 10 }).toEqual({
        process: process.name,
        covers: true,
      });
    }
  });

  it('requests at least the measured RSS and limits memory above the measured peak', () => {
    for (const process of DEPLOYED) {
      const { requests, limits } = containerOf(find(renderings.base, 'Deployment', process.name)!).resources;
      const measured = MEASURED_RSS_MIB[process.name];
      expect({ process: process.name, request: mebibytes(requests.memory) >= measured.steady }).toEqual({
        process: process.name,
        request: true,
      });
      expect({ process: process.name, limit: mebibytes(limits.memory) >= measured.peak * 1.2 }).toEqual({
        process: process.name,
        limit: true,
      });
    }
  });

  it.each(variants)(
    '%s: holds no secret, only references to Secrets, and only variables the config knows',
    (v) => {
      const objects = renderings[v];
      const sensitive = /PASSWORD|API_KEY|SECRET|TOKEN|(?<!_PATH)_KEY$/;
      expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
      const known = (name: string) => name in ENV_SPEC || AGREED_VARIABLES.includes(name);
      const config = configOf(objects);
      expect(Object.keys(config).filter((name) => !known(name) || sensitive.test(name))).toEqual([]);
      for (const process of DEPLOYED) {
        const container = containerOf(find(objects, 'Deployment', process.name)!);
        const ownEnv = (name: string) => name in (process.env ?? {});
        for (const env of container.env as { name: string; value?: string; valueFrom?: object }[]) {
          expect({ name: env.name, known: known(env.name) || ownEnv(env.name) }).toEqual({
            name: env.name,
            known: true,
          });
          if (sensitive.test(env.name))
            expect({ name: env.name, value: env.value, from: Object.keys(env.valueFrom ?? {}) }).toEqual({
              name: env.name,
              value: undefined,
              from: ['secretKeyRef'],
            });
        }
      }
    },
  );

  it.each(variants)(
    '%s: scales each Kafka consumer on its own group’s lag, up to one replica per partition',
    (v) => {
      const objects = renderings[v];
      const data = configOf(objects);
      const config = withOverrides(loadConfig({}), {
        kafka: { clientId: data.KAFKA_CLIENT_ID },
        topics: { events: data.TOPIC_EVENTS, cdc: data.TOPIC_CDC, partitions: Number(data.TOPIC_PARTITIONS) },
      });
      const consumers = [
        { name: 'dynamo-sink', group: dynamoSinkGroupId(config), topic: config.topics.events },
        { name: 's3-sink', group: s3SinkGroupId(config), topic: config.topics.cdc },
      ];
      for (const consumer of consumers) {
        const scaled = find(objects, 'ScaledObject', consumer.name)!;
        expect(scaled.spec.scaleTargetRef.name).toBe(consumer.name);
        expect(scaled.spec.maxReplicaCount).toBe(config.topics.partitions);
        expect(scaled.spec.triggers).toHaveLength(1);
        expect(scaled.spec.triggers[0].type).toBe('kafka');
        expect(scaled.spec.triggers[0].metadata).toMatchObject({
          bootstrapServers: data.KAFKA_BROKERS,
          consumerGroup: consumer.group,
          topic: consumer.topic,
        });
      }
      // The relay reads stream shards through leases: no consumer group to scale on.
      expect(objects.filter((o) => o.kind === 'ScaledObject').map((o) => o.spec.scaleTargetRef.name)).toEqual(
        ['dynamo-sink', 's3-sink'],
      );
    },
  );

  it.each(variants)('%s: gives each process the runtime environment the local stack gives it', (v) => {
    expect(Object.keys(WORKER_PROCESS.env ?? {})).toContain('MALLOC_ARENA_MAX');
    for (const process of DEPLOYED) {
      const container = containerOf(find(renderings[v], 'Deployment', process.name)!);
      const values = new Map(
        (container.env as { name: string; value?: string }[]).map((env) => [env.name, env.value]),
      );
      const runtime = Object.fromEntries(Object.keys(process.env ?? {}).map((key) => [key, values.get(key)]));
      expect({ process: process.name, env: runtime }).toEqual({
        process: process.name,
        env: process.env ?? {},
      });
    }
  });

  it('local overlay: the same settings as the pipeline processes of docker-compose.yml', () => {
    const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
      services: Record<string, { environment: Record<string, string> }>;
    };
    // The worker's runtime environment (glibc's malloc) is its container's, not the shared ConfigMap's.
    const composeEnv = Object.fromEntries(
      Object.entries(compose.services.worker.environment)
        .filter(([key]) => !(key in (WORKER_PROCESS.env ?? {})))
        .map(([key, value]) => [key, String(value)]),
    );
    expect(subset(composeEnv, configOf(renderings.local))).toBe(true);
    expect(find(renderings.local, 'Deployment', 'worker')!.metadata.namespace).toBe('orders-pipeline');
  });

  it('aws overlay: each process assumes the IAM role named after its policy from `pipeline iam`', () => {
    const data = configOf(renderings.aws);
    const ctx = iamContext(loadConfig({}), { account: '123456789012', region: data.AWS_REGION });
    const policyNames = new Set(pipelinePolicies(ctx).map((policy) => policy.name));
    for (const process of DEPLOYED) {
      const deployment = find(renderings.aws, 'Deployment', process.name)!;
      const account = find(
        renderings.aws,
        'ServiceAccount',
        deployment.spec.template.spec.serviceAccountName,
      )!;
      const role = account.metadata.annotations?.['eks.amazonaws.com/role-arn'] ?? '';
      const roleName = role.split('/').pop()!;
      expect({ process: process.name, roleName, hasPolicy: policyNames.has(roleName) }).toEqual({
        process: process.name,
        roleName,
        hasPolicy: true,
      });
    }
  });

  it('kustomize resources and patches all exist (no file referenced twice or missing)', () => {
    for (const dir of ['base', 'overlays/local', 'overlays/aws']) {
      const kustomization = parse(
        readFileSync(join(kustomizeRoot, dir, 'kustomization.yaml'), 'utf8'),
      ) as Kustomization;
      const files = [...(kustomization.resources ?? []), ...(kustomization.patches ?? []).map((p) => p.path)];
      expect(new Set(files).size).toBe(files.length);
      for (const file of files) expect(statSync(join(kustomizeRoot, dir, file))).toBeTruthy();
    }
  });
});
