/**
 * Keeps the README true where it can be checked mechanically: the quick start is the two commands, the
 * configuration table is the one generated from ENV_SPEC, and every workflow type has a `temporal workflow start`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { configTable } from '../../scripts/config-table';
import { WORKFLOW_TYPES } from '../../src/contract/types';

const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');

describe('README', () => {
  it('has a quick start of exactly `npm start` and `npm test`', () => {
    const quickStart = readme.split('## Quick start')[1]?.split('\n## ')[0] ?? '';
    const block = /```bash\n([\s\S]*?)```/.exec(quickStart)?.[1] ?? '';
    expect(block.trim().split('\n')).toEqual(['npm start', 'npm test']);
  });

  it('documents every configuration variable with its default (generated table)', () => {
    expect(readme).toContain(configTable());
  });

  it('shows how to start every workflow with the temporal CLI', () => {
    for (const type of WORKFLOW_TYPES)
      expect(readme).toMatch(new RegExp(`temporal workflow start[^\\n]*--type ${type}\\b`));
  });
});
