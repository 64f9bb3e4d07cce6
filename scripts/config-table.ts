/**
 * Prints the configuration table of the README from ENV_SPEC, the variables of the one configuration table
 * (src/config/bindings.ts): `npx tsx scripts/config-table.ts`. test/ops/readme.test.ts checks the README holds it.
 */
import { ENV_SPEC } from '../src/config';

export function configTable(): string {
  const rows = Object.entries(ENV_SPEC).map(
    ([name, spec]) =>
      `| \`${name}\` | ${spec.default === '' ? '(empty)' : `\`${spec.default}\``} | ${spec.doc.replace(/\|/g, '\\|')} |`,
  );
  return ['| variable | default | meaning |', '|---|---|---|', ...rows].join('\n');
}

if (require.main === module) console.log(configTable());
