/**
 * `npm run pipeline -- iam --account <id> --region <region> [--out-dir <dir>]`: the least-privilege IAM policies
 * of the current configuration (src/aws/iam). Printed as commented JSON documents, or written one file per
 * policy (plain JSON, ready for `aws iam put-role-policy --policy-document file://...`).
 *
 * The account is not looked up with STS GetCallerIdentity: `@aws-sdk/client-sts` is not a dependency of the
 * project, so the account is a required flag.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { MskInputError } from '../../aws/iam/kafka-access';
import { iamContext, IamInputError, pipelinePolicies, type GeneratedPolicy } from '../../aws/iam/policies';
import { loadConfig } from '../../config';
import { runScopedConfig } from '../main-job/run-scope';
import { CliError } from './cli-error';

interface IamOptions {
  account?: string;
  region?: string;
  outDir?: string;
  mskClusterArn?: string;
}

function render(policy: GeneratedPolicy): string[] {
  return [
    `# ${policy.name}: for ${policy.attachTo}`,
    ...policy.notes.map((note) => `#   ${note}`),
    JSON.stringify(policy.document, null, 2),
    '',
  ];
}

export function addIamCommand(program: Command): void {
  program
    .command('iam')
    .description('print the least-privilege IAM policies for the current configuration (no AWS call)')
    .option('--account <id>', 'AWS account id (12 digits) the resources live in')
    .option('--region <region>', 'AWS region of the resources (default: AWS_REGION)')
    .option(
      '--msk-cluster-arn <arn>',
      'MSK cluster ARN (arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid>), required with KAFKA_SASL_MECHANISM=aws-msk-iam',
    )
    .option('--out-dir <dir>', 'write <policy name>.json files there instead of printing')
    .action((options: IamOptions) => {
      const config = loadConfig();
      const region = options.region ?? config.aws.region;
      if (!options.account)
        throw new CliError(
          'iam: pass --account <12-digit account id> (looking it up with STS needs @aws-sdk/client-sts, not a dependency yet)',
          2,
        );
      if (!region) throw new CliError('iam: pass --region <region> or set AWS_REGION', 2);
      let policies: GeneratedPolicy[];
      try {
        policies = pipelinePolicies(iamContext(config, { account: options.account, region }), {
          boundedRunConfig: runScopedConfig(config, '*'),
          mskClusterArn: options.mskClusterArn,
        });
      } catch (error) {
        if (error instanceof IamInputError || error instanceof MskInputError)
          throw new CliError(`iam: ${error.message}`, 2);
        throw error;
      }
      if (!options.outDir) {
        for (const policy of policies) console.log(render(policy).join('\n'));
        return;
      }
      mkdirSync(options.outDir, { recursive: true });
      for (const policy of policies) {
        const file = join(options.outDir, `${policy.name}.json`);
        writeFileSync(file, JSON.stringify(policy.document, null, 2) + '\n');
        console.error([`${file}: for ${policy.attachTo}`, ...policy.notes.map((n) => `  ${n}`)].join('\n'));
      }
    });
}
