/**
 * The Temporal connection settings, loaded by Temporal's own rules (`@temporalio/envconfig`, as the `temporal` CLI
 * and every SDK read them): a profile from the TOML config file (TEMPORAL_CONFIG_FILE, else the user's
 * `temporalio/temporal.toml`; profile TEMPORAL_PROFILE, else `default`), then the TEMPORAL_* variables over it.
 *
 * Local mode targets the local stack: it reads a config file only when TEMPORAL_CONFIG_FILE or TEMPORAL_PROFILE
 * asks for one (a developer's default profile for a cloud namespace must not redirect `npm start`), and the address
 * defaults to the stack's. AWS mode follows Temporal's conventions fully and has no default address.
 *
 * The API key and client key material stay in the Config object (the connection needs them) but never reach a log:
 * src/observability/logger.ts redacts them.
 */
import { loadClientConfigProfile, type ClientConfigTLS, type ConfigDataSource } from '@temporalio/envconfig';
import { existsSync } from 'node:fs';
import { z } from 'zod';
import type { Binding, LoadContext, Variable } from './binding';
import { ConfigError } from './config-error';

const dataSource = z.union([z.object({ path: z.string() }), z.object({ data: z.string() })]);

const tlsSchema = z.object({
  disabled: z.boolean().optional(),
  serverName: z.string().optional(),
  serverCACert: dataSource.optional(),
  clientCert: dataSource.optional(),
  clientKey: dataSource.optional(),
});

const connectionShape = {
  address: z.string().regex(/^[^:]+:\d+$/, 'expected host:port'),
  namespace: z.string().min(1),
  apiKey: z.string().optional(),
  tls: tlsSchema.optional(),
  grpcMeta: z.record(z.string(), z.string()).optional(),
};

export type TemporalTls = z.infer<typeof tlsSchema>;

/** The variables envconfig reads that the README documents; envconfig's others (`*_DATA`, gRPC metadata) work too. */
const VARIABLES = {
  address: {
    name: 'TEMPORAL_ADDRESS',
    doc: 'Temporal frontend host:port (AWS mode: no default, a profile may give it)',
  },
  namespace: {
    name: 'TEMPORAL_NAMESPACE',
    doc: "Temporal namespace (default: the profile's, else `default`)",
  },
  apiKey: { name: 'TEMPORAL_API_KEY', doc: 'Temporal Cloud API key; turns TLS on (never logged)' },
  tls: {
    name: 'TEMPORAL_TLS',
    doc: '`true`: TLS to Temporal without other TLS settings; `false`: off even if a profile has it',
  },
  serverCa: {
    name: 'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
    doc: 'CA bundle (PEM) that signed the server certificate (default: system CAs)',
  },
  serverName: {
    name: 'TEMPORAL_TLS_SERVER_NAME',
    doc: 'TLS server name to verify, when it differs from the address host',
  },
  clientCert: { name: 'TEMPORAL_TLS_CLIENT_CERT_PATH', doc: 'Client certificate (PEM) for mTLS' },
  clientKey: {
    name: 'TEMPORAL_TLS_CLIENT_KEY_PATH',
    doc: 'Client private key (PEM) for mTLS (never logged)',
  },
  profile: { name: 'TEMPORAL_PROFILE', doc: 'Profile of the Temporal config file (default: `default`)' },
  configFile: {
    name: 'TEMPORAL_CONFIG_FILE',
    doc: 'Temporal TOML config file (AWS mode default: ~/.config/temporalio/temporal.toml)',
  },
} as const;

function fromSource(source: ConfigDataSource | undefined) {
  if (source === undefined) return undefined;
  if ('path' in source) return { path: source.path };
  return { data: typeof source.data === 'string' ? source.data : Buffer.from(source.data).toString('utf8') };
}

function tlsFrom(tls: ClientConfigTLS | undefined): TemporalTls | undefined {
  if (tls === undefined) return undefined;
  return {
    disabled: tls.disabled,
    serverName: tls.serverName,
    serverCACert: fromSource(tls.serverCACert),
    clientCert: fromSource(tls.clientCert),
    clientKey: fromSource(tls.clientKey),
  };
}

/** Variables set to the empty string count as unset, as everywhere else in the configuration. */
function setVariables(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => Boolean(entry[1])),
  );
}

function loadConnection({ env, mode }: LoadContext, localAddress: string) {
  const variables = setVariables(env);
  const configFile = variables[VARIABLES.configFile.name];
  if (configFile !== undefined && !existsSync(configFile)) {
    throw new ConfigError(`${VARIABLES.configFile.name}: no such file "${configFile}"`);
  }
  let profile;
  try {
    profile = loadClientConfigProfile({
      overrideEnvVars: variables,
      disableFile: mode === 'local' && configFile === undefined && !variables[VARIABLES.profile.name],
    });
  } catch (error) {
    throw new ConfigError(`Temporal client configuration: ${(error as Error).message}`);
  }
  const address = profile.address ?? (mode === 'local' ? localAddress : undefined);
  if (!address) {
    throw new ConfigError(
      `${VARIABLES.address.name} is not set and the Temporal profile has no address (AWS mode has no default)`,
    );
  }
  return {
    address,
    namespace: profile.namespace ?? 'default',
    apiKey: profile.apiKey,
    tls: tlsFrom(profile.tls),
    grpcMeta: profile.grpcMeta,
  };
}

function sourceToEnv(source: z.infer<typeof dataSource> | undefined, pathName: string) {
  if (source === undefined) return {};
  return 'path' in source
    ? { [pathName]: source.path }
    : { [pathName.replace(/_PATH$/, '_DATA')]: source.data };
}

/**
 * The `temporal` part of the Config: the connection settings resolved as above, plus `members` (the task queue,
 * the UI URL, a prebuilt workflow bundle), read like any other settings.
 */
export function temporalBinding(
  localAddress: string,
  members: Binding<
    z.ZodObject<{ taskQueue: z.ZodString; uiUrl: z.ZodString; workflowBundlePath: z.ZodString }>
  >,
) {
  const schema = members.schema.extend(connectionShape);
  const connectionVariables: Variable[] = Object.values(VARIABLES).map(({ name, doc }) => ({
    name,
    default:
      name === VARIABLES.address.name ? localAddress : name === VARIABLES.namespace.name ? 'default' : '',
    doc,
  }));
  return {
    schema,
    variables: [...connectionVariables, ...members.variables],
    load: (context) => ({ ...(members.load(context) as object), ...loadConnection(context, localAddress) }),
    toEnv(value) {
      const { tls } = value;
      return {
        ...members.toEnv(value),
        [VARIABLES.address.name]: value.address,
        [VARIABLES.namespace.name]: value.namespace,
        [VARIABLES.apiKey.name]: value.apiKey,
        ...(tls === undefined
          ? {}
          : {
              [VARIABLES.tls.name]: String(tls.disabled !== true),
              [VARIABLES.serverName.name]: tls.serverName,
              ...sourceToEnv(tls.serverCACert, VARIABLES.serverCa.name),
              ...sourceToEnv(tls.clientCert, VARIABLES.clientCert.name),
              ...sourceToEnv(tls.clientKey, VARIABLES.clientKey.name),
            }),
      };
    },
  } satisfies Binding<typeof schema>;
}
