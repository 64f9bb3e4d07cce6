/**
 * The DynamoDB sink's table, on moto: a table made elsewhere with another key schema is refused by provisioning,
 * and the sink's writer stops on it (not retriable) instead of dead-lettering every event as if each were bad.
 */
import { CreateTableCommand, DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { createAwsClients, destroyAwsClients } from '../../src/aws/clients';
import { orderStateFromEvent, type OrderEvent } from '../../src/domain/order-event';
import { ensureOrdersTable } from '../../src/resources/dynamodb-tables';
import { InvalidOrderEventError, OrderWriteError } from '../../src/streaming/dynamo-sink/errors';
import { createOrderWriter } from '../../src/streaming/dynamo-sink/order-writer';
import { freshConfig } from '../support/fresh-config';

const event: OrderEvent = {
  schemaVersion: 1,
  eventId: 'event-1',
  eventType: 'ORDER_CREATED',
  orderId: 'order-1',
  customerId: 'customer-1',
  seq: 1,
  eventTime: '2024-05-01T09:40:00.000Z',
  orderCreatedAt: '2024-05-01T09:40:00.000Z',
  amount: 12.5,
  currency: 'EUR',
  region: 'eu-west',
  itemCount: 2,
};

describe('DynamoDB sink: a table with another key schema', () => {
  const config = freshConfig('sink-table');
  const aws = createAwsClients(config);
  const table = config.dynamodb.ordersTable;

  beforeAll(async () => {
    await aws.dynamodb.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'orderId', AttributeType: 'N' }],
        KeySchema: [{ AttributeName: 'orderId', KeyType: 'HASH' }],
      }),
    );
  });

  afterAll(async () => {
    await aws.dynamodb.send(new DeleteTableCommand({ TableName: table })).catch(() => undefined);
    destroyAwsClients(aws);
  });

  it('is refused by provisioning, naming the key it has and the one it needs', async () => {
    await expect(ensureOrdersTable(aws.dynamodb, config)).rejects.toThrow(
      `table ${table} exists with key orderId (N); expected only orderId (S)`,
    );
  });

  it('stops the writer, not retriable, rather than dead-lettering the event', async () => {
    const writer = createOrderWriter({ dynamodb: aws.dynamodb, table, baseDelayMs: 1 });
    const error = await writer.write(orderStateFromEvent(event)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).not.toBeInstanceOf(InvalidOrderEventError);
    expect(error).toBeInstanceOf(OrderWriteError);
    expect((error as OrderWriteError).retriable).toBe(false);
    expect((error as OrderWriteError).message).toContain(
      `PutItem of order order-1 into ${table} failed: ValidationException`,
    );
  });
});
