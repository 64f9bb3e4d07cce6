/**
 * The log line of an error keeps what an operator needs (type, message, stack, the cause chain), and a logged
 * config never carries a secret (Kafka SASL, AWS keys, the Temporal API key and client key).
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { withOverrides, loadConfig } from '../../src/config';
import { loggerOptions } from '../../src/observability/logger';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino(loggerOptions('info'), stream), lines };
}

describe('logger', () => {
  it('logs `err` with its type, message, stack and cause', () => {
    const { logger, lines } = capture();
    class LeaseLostError extends Error {
      override name = 'LeaseLostError';
    }
    logger.warn(
      { err: new LeaseLostError('lease taken', { cause: new TypeError('socket closed') }) },
      'failed',
    );
    expect(lines[0].err).toMatchObject({
      type: 'LeaseLostError',
      message: 'lease taken',
      stack: expect.stringContaining('LeaseLostError: lease taken\n    at '),
      cause: {
        type: 'TypeError',
        message: 'socket closed',
        stack: expect.stringContaining('TypeError: socket closed\n    at '),
      },
    });
  });

  it('redacts secrets of a logged config', () => {
    const { logger, lines } = capture();
    const kafkaEnv = {
      KAFKA_SASL_MECHANISM: 'oauthbearer',
      KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL: 'https://idp.example/token',
      KAFKA_SASL_OAUTHBEARER_CLIENT_ID: 'pipeline',
      KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET: 'oauth-secret',
      KAFKA_SASL_PASSWORD: 'kafka-secret',
    };
    const config = withOverrides(loadConfig(kafkaEnv), {
      temporal: { apiKey: 'temporal-secret', tls: { clientKey: { data: 'PRIVATE KEY' } } },
    });
    logger.info({ config }, 'config');
    const text = JSON.stringify(lines[0]);
    for (const secret of ['kafka-secret', 'oauth-secret', 'temporal-secret', 'PRIVATE KEY'])
      expect(text).not.toContain(secret);
    expect(text).toContain('"apiKey":"[redacted]"');
  });
});
