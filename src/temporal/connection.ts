/**
 * Every Temporal connection of the pipeline is opened here, from the config: the client's (CLI, worker's
 * schedules and search attributes, tests) and the worker's native one. The settings (address, namespace, API key,
 * TLS and mTLS, gRPC metadata) were loaded by Temporal's own rules (src/config/temporal-binding.ts); envconfig's
 * `toClientOptions` turns them into connection options, reading certificate and key files at connect time.
 *
 * @example
 *   const temporal = await connectClient(config);
 *   try {
 *     await temporal.client.workflow.execute(provision, { taskQueue, workflowId, args: [{}] });
 *   } finally {
 *     await temporal.close();
 *   }
 */
import { Client, Connection } from '@temporalio/client';
import type { Duration } from '@temporalio/common';
import { toClientOptions } from '@temporalio/envconfig';
import type { NativeConnection } from '@temporalio/worker';
import type { Config } from '../config';

export interface TemporalClient {
  client: Client;
  connection: Connection;
  close(): Promise<void>;
}

export interface ClientConnectOptions {
  /** How long to wait for the server before failing (the SDK's default: 10 s). */
  connectTimeout?: Duration;
}

/**
 * The options every connection to the config's Temporal gets. They carry the API key and key material: pass them
 * to a connection, never to a logger.
 */
export function temporalConnectionOptions(config: Config) {
  const { address, namespace, apiKey, tls, grpcMeta } = config.temporal;
  const { connectionOptions } = toClientOptions({ address, namespace, apiKey, tls, grpcMeta });
  return {
    address,
    tls: connectionOptions.tls,
    apiKey: connectionOptions.apiKey,
    metadata: connectionOptions.metadata,
  };
}

/** A client on the config's namespace, over a connection of its own that `close()` closes. */
export async function connectClient(
  config: Config,
  options: ClientConnectOptions = {},
): Promise<TemporalClient> {
  const connection = await Connection.connect({ ...temporalConnectionOptions(config), ...options });
  return {
    client: new Client({ connection, namespace: config.temporal.namespace }),
    connection,
    close: () => connection.close(),
  };
}

/** A worker's connection (the caller closes it). */
export async function connectWorkerConnection(config: Config): Promise<NativeConnection> {
  // Loaded on first use: the worker's native core costs seconds that client-only processes should not pay.
  const { NativeConnection } = await import('@temporalio/worker');
  return NativeConnection.connect(temporalConnectionOptions(config));
}
