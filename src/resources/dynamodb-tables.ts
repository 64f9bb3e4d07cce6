/**
 * Idempotently ensures the DynamoDB tables: `orders` (partition key orderId, stream NEW_AND_OLD_IMAGES)
 * and the relay's lease/checkpoint table (partition key leaseKey). Waits until each is ACTIVE.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceInUseException,
  ResourceNotFoundException,
  UpdateTableCommand,
  waitUntilTableExists,
  type DynamoDBClient,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import type { Config } from '../config';
import type { EnsureOutcome } from '../contract/outcome';
import { CHECKPOINT_KEY, ORDERS_KEY } from '../domain/table-keys';

interface TableSpec {
  name: string;
  key: string;
  /** Whether the table needs a NEW_AND_OLD_IMAGES stream. */
  stream: boolean;
}

async function describe(dynamodb: DynamoDBClient, name: string): Promise<TableDescription | undefined> {
  try {
    return (await dynamodb.send(new DescribeTableCommand({ TableName: name }))).Table;
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return undefined;
    throw error;
  }
}

async function waitActive(dynamodb: DynamoDBClient, name: string): Promise<TableDescription> {
  await waitUntilTableExists(
    { client: dynamodb, maxWaitTime: 300, minDelay: 1, maxDelay: 5 },
    { TableName: name },
  );
  for (let attempt = 0; attempt < 300; attempt++) {
    const table = await describe(dynamodb, name);
    if (table?.TableStatus === 'ACTIVE') return table;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  throw new Error(`table ${name} did not become ACTIVE within 5 minutes`);
}

export async function ensureTable(dynamodb: DynamoDBClient, spec: TableSpec): Promise<EnsureOutcome> {
  const streamSpec = { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' as const };
  let table = await describe(dynamodb, spec.name);
  if (!table) {
    try {
      await dynamodb.send(
        new CreateTableCommand({
          TableName: spec.name,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [{ AttributeName: spec.key, AttributeType: 'S' }],
          KeySchema: [{ AttributeName: spec.key, KeyType: 'HASH' }],
          ...(spec.stream ? { StreamSpecification: streamSpec } : {}),
        }),
      );
    } catch (error) {
      // A concurrent provisioning run created it first: that is the outcome we wanted.
      if (!(error instanceof ResourceInUseException)) throw error;
    }
    await waitActive(dynamodb, spec.name);
    return { kind: 'dynamodb-table', name: spec.name, action: 'created' };
  }
  table = await waitActive(dynamodb, spec.name);
  const keyName = table.KeySchema?.find((k) => k.KeyType === 'HASH')?.AttributeName;
  if (keyName !== spec.key) {
    throw new Error(`table ${spec.name} exists with partition key "${keyName}", expected "${spec.key}"`);
  }
  const keyType = table.AttributeDefinitions?.find((a) => a.AttributeName === spec.key)?.AttributeType;
  const sortKey = table.KeySchema?.find((k) => k.KeyType === 'RANGE')?.AttributeName;
  if (keyType !== 'S' || sortKey !== undefined) {
    throw new Error(
      `table ${spec.name} exists with key ${spec.key} (${keyType})${sortKey ? ` and sort key ${sortKey}` : ''}; expected only ${spec.key} (S)`,
    );
  }
  const view = table.StreamSpecification?.StreamEnabled
    ? table.StreamSpecification.StreamViewType
    : undefined;
  if (spec.stream && view !== 'NEW_AND_OLD_IMAGES') {
    if (view) {
      throw new Error(
        `table ${spec.name} has a ${view} stream; the CDC relay needs NEW_AND_OLD_IMAGES (disable it first)`,
      );
    }
    await dynamodb.send(new UpdateTableCommand({ TableName: spec.name, StreamSpecification: streamSpec }));
    await waitActive(dynamodb, spec.name);
    return {
      kind: 'dynamodb-table',
      name: spec.name,
      action: 'updated',
      detail: 'stream NEW_AND_OLD_IMAGES enabled',
    };
  }
  return { kind: 'dynamodb-table', name: spec.name, action: 'exists' };
}

export function ensureOrdersTable(dynamodb: DynamoDBClient, config: Config): Promise<EnsureOutcome> {
  return ensureTable(dynamodb, { name: config.dynamodb.ordersTable, key: ORDERS_KEY, stream: true });
}

export function ensureCheckpointTable(dynamodb: DynamoDBClient, config: Config): Promise<EnsureOutcome> {
  return ensureTable(dynamodb, { name: config.dynamodb.checkpointTable, key: CHECKPOINT_KEY, stream: false });
}

/** The ARN of the orders table's current stream (the relay reads it). */
export async function ordersStreamArn(dynamodb: DynamoDBClient, config: Config): Promise<string> {
  const table = await describe(dynamodb, config.dynamodb.ordersTable);
  if (!table?.LatestStreamArn)
    throw new Error(`table ${config.dynamodb.ordersTable} has no stream (run provisioning)`);
  return table.LatestStreamArn;
}
