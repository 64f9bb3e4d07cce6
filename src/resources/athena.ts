/**
 * Idempotently ensures the Athena workgroup and its result location `s3://<bucket>/<athenaResultsPrefix>/`.
 *
 * The workgroup enforces its configuration, so every query of the pipeline (reports, ad-hoc, the CLI) writes its
 * results under one prefix whatever the client asks for.
 */
import {
  CreateWorkGroupCommand,
  GetWorkGroupCommand,
  InvalidRequestException,
  UpdateWorkGroupCommand,
  type AthenaClient,
  type WorkGroup,
} from '@aws-sdk/client-athena';
import type { Config } from '../config';
import type { EnsureOutcome } from '../contract/outcome';

export function athenaOutputLocation(config: Config): string {
  return `s3://${config.lake.bucket}/${config.lake.athenaResultsPrefix}/`;
}

async function getWorkGroup(athena: AthenaClient, name: string): Promise<WorkGroup | undefined> {
  try {
    return (await athena.send(new GetWorkGroupCommand({ WorkGroup: name }))).WorkGroup;
  } catch (error) {
    // Athena reports a missing workgroup as an invalid request ("WorkGroup x is not found").
    if (error instanceof InvalidRequestException && /not found/i.test(error.message)) return undefined;
    throw error;
  }
}

/**
 * @example
 *   await ensureWorkgroup(aws.athena, config); // { kind: 'athena-workgroup', name: 'orders-pipeline', action: 'created' }
 */
export async function ensureWorkgroup(athena: AthenaClient, config: Config): Promise<EnsureOutcome> {
  const name = config.athena.workgroup;
  const outputLocation = athenaOutputLocation(config);
  const current = await getWorkGroup(athena, name);
  if (!current) {
    try {
      await athena.send(
        new CreateWorkGroupCommand({
          Name: name,
          Description: 'Orders pipeline reports and ad-hoc queries',
          Configuration: {
            ResultConfiguration: { OutputLocation: outputLocation },
            EnforceWorkGroupConfiguration: true,
            PublishCloudWatchMetricsEnabled: false,
          },
        }),
      );
    } catch (error) {
      // A concurrent provisioning run created it first.
      if (!(error instanceof InvalidRequestException && /already (created|exists)/i.test(error.message)))
        throw error;
    }
    return { kind: 'athena-workgroup', name, action: 'created' };
  }
  const drift: string[] = [];
  const configured = current.Configuration?.ResultConfiguration?.OutputLocation;
  if (configured !== outputLocation)
    drift.push(`output location ${configured ?? '(none)'} -> ${outputLocation}`);
  if (current.Configuration?.EnforceWorkGroupConfiguration === false)
    drift.push('enforce workgroup configuration');
  if (current.State === 'DISABLED') drift.push('enabled');
  if (drift.length === 0) return { kind: 'athena-workgroup', name, action: 'exists' };
  await athena.send(
    new UpdateWorkGroupCommand({
      WorkGroup: name,
      State: 'ENABLED',
      ConfigurationUpdates: {
        ResultConfigurationUpdates: { OutputLocation: outputLocation },
        EnforceWorkGroupConfiguration: true,
      },
    }),
  );
  return { kind: 'athena-workgroup', name, action: 'updated', detail: drift.join(', ') };
}
