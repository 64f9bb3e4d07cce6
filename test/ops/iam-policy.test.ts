/**
 * AWS mode runs with the least-privilege policy in iam/pipeline-policy.json. This test reads every AWS SDK
 * operation the pipeline's code imports (commands, waiters and paginators of each @aws-sdk/client-* package)
 * and fails when the policy lacks the IAM action it needs, or grants one nothing calls.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(__dirname, '..', '..');

/** Code that runs against AWS. The local Glue/Athena endpoint (src/local) only ever runs locally. */
const AWS_CODE_DIRS = ['src'];
const LOCAL_ONLY = [join('src', 'local')];

const SERVICE_PREFIX: Record<string, string> = {
  dynamodb: 'dynamodb',
  'dynamodb-streams': 'dynamodb',
  s3: 's3',
  glue: 'glue',
  athena: 'athena',
};

/** S3 operations whose IAM action is not s3:<Operation>. */
const S3_ACTIONS: Record<string, string> = {
  ListObjectsV2: 's3:ListBucket',
  ListObjects: 's3:ListBucket',
  HeadBucket: 's3:ListBucket',
  HeadObject: 's3:GetObject',
  CreateMultipartUpload: 's3:PutObject',
  UploadPart: 's3:PutObject',
  CompleteMultipartUpload: 's3:PutObject',
  AbortMultipartUpload: 's3:AbortMultipartUpload',
  DeleteObjects: 's3:DeleteObject',
};

/** Waiters call a describe operation. */
const WAITER_OPERATIONS: Record<string, string> = {
  TableExists: 'DescribeTable',
  TableNotExists: 'DescribeTable',
  BucketExists: 'HeadBucket',
  ObjectExists: 'HeadObject',
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

function actionFor(service: string, operation: string): string {
  if (service === 's3') return S3_ACTIONS[operation] ?? `s3:${operation}`;
  return `${SERVICE_PREFIX[service]}:${operation}`;
}

/** Every IAM action the code needs, with the files that need it. */
function actionsUsedByCode(): Map<string, Set<string>> {
  const used = new Map<string, Set<string>>();
  const importPattern = /import\s*(?:type\s*)?\{([^}]*)\}\s*from\s*'@aws-sdk\/client-([a-z0-9-]+)'/g;
  for (const dir of AWS_CODE_DIRS) {
    for (const file of sourceFiles(join(root, dir))) {
      const rel = relative(root, file);
      if (LOCAL_ONLY.some((local) => rel.startsWith(local))) continue;
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(importPattern)) {
        const service = match[2];
        if (!(service in SERVICE_PREFIX)) continue;
        for (const rawName of match[1].split(',')) {
          const name = rawName
            .trim()
            .replace(/^type\s+/, '')
            .split(/\s+as\s+/)[0];
          let operation: string | undefined;
          if (name.endsWith('Command')) operation = name.slice(0, -'Command'.length);
          else if (name.startsWith('paginate')) operation = name.slice('paginate'.length);
          else if (name.startsWith('waitUntil'))
            operation = WAITER_OPERATIONS[name.slice('waitUntil'.length)];
          if (!operation) continue;
          // Only count what the file really uses, not a type-only mention.
          if (!new RegExp(`\\b${name}\\b`).test(text.replace(match[0], ''))) continue;
          const action = actionFor(service, operation);
          if (!used.has(action)) used.set(action, new Set());
          used.get(action)!.add(rel);
        }
      }
    }
  }
  return used;
}

interface PolicyDocument {
  Statement: { Effect: string; Action: string | string[]; Resource: string | string[] }[];
}

function actionsGranted(file: string): Set<string> {
  const policy = JSON.parse(readFileSync(join(root, 'iam', file), 'utf8')) as PolicyDocument;
  return new Set(
    policy.Statement.filter((s) => s.Effect === 'Allow').flatMap((s) =>
      Array.isArray(s.Action) ? s.Action : [s.Action],
    ),
  );
}

describe('least-privilege IAM policy', () => {
  const used = actionsUsedByCode();
  const granted = actionsGranted('pipeline-policy.json');

  it('finds the AWS calls of the pipeline (the scan itself works)', () => {
    expect(used.has('dynamodb:UpdateItem') || used.has('dynamodb:PutItem')).toBe(true);
    expect(used.has('s3:PutObject')).toBe(true);
    expect(used.has('glue:StartCrawler')).toBe(true);
    expect(used.has('athena:StartQueryExecution')).toBe(true);
  });

  it('grants every action the code calls', () => {
    const missing = [...used.entries()]
      .filter(([action]) => !granted.has(action))
      .map(([action, files]) => `${action} (used in ${[...files].join(', ')})`);
    expect(missing).toEqual([]);
  });

  it('grants nothing beyond what the code calls, except what Athena and Glue need on the caller’s behalf', () => {
    const onBehalf = new Set(actionsGranted('athena-on-behalf-actions.json'));
    const extra = [...granted].filter((action) => !used.has(action) && !onBehalf.has(action));
    expect(extra).toEqual([]);
  });

  it('uses no wildcard actions', () => {
    expect([...granted].filter((action) => action.includes('*'))).toEqual([]);
  });
});
