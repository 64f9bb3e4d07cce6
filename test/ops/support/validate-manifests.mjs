// Validates Kubernetes objects against the schemas shipped in kubernetes-models and its KEDA and
// prometheus-operator companions (offline: the schemas are in the packages). The packages are ES modules only, so
// the jest test runs this as a child: JSON array of objects on stdin, JSON array of
// { kind, name, error } on stdout (error null when valid).
const PACKAGES = {
  '': 'kubernetes-models',
  'keda.sh': '@kubernetes-models/keda/keda.sh',
  'monitoring.coreos.com': '@kubernetes-models/prometheus-operator/monitoring.coreos.com',
};

async function modelFor(apiVersion, kind) {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const base = PACKAGES[group] ?? `kubernetes-models/${group}`;
  const module = await import(`${base}/${version}/${kind}`);
  return module[kind];
}

let input = '';
for await (const chunk of process.stdin) input += chunk;
const results = [];
for (const object of JSON.parse(input)) {
  const name = object.metadata?.name;
  try {
    const Model = await modelFor(object.apiVersion, object.kind);
    new Model(object).validate();
    results.push({ kind: object.kind, name, error: null });
  } catch (error) {
    results.push({ kind: object.kind, name, error: error.message });
  }
}
process.stdout.write(JSON.stringify(results));
