import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import importPlugin from 'eslint-plugin-import';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

/**
 * The layers of src/, lowest first: a folder may import only from folders of lower layers (folders of the same
 * layer are peers and do not import each other). This list is the architecture; README "Repository layout" explains it.
 */
const LAYERS = [
  ['support'],
  ['domain'],
  ['config'],
  ['contract'],
  ['observability'],
  ['aws', 'kafka', 'temporal'],
  ['lake-format'],
  ['resources'],
  ['streaming', 'activities'],
  ['workflows'],
  ['workers'],
  ['local'],
  ['cli'],
];
/** A separate product (the local Glue + Athena endpoint): it uses src/support only, and nothing imports it. */
const ENDPOINT = 'lake-endpoint';

const layerZones = LAYERS.flatMap((layer, level) =>
  layer.map((folder) => {
    const forbidden = [
      ...LAYERS.slice(level)
        .flat()
        .filter((other) => other !== folder),
      ENDPOINT,
    ];
    const allowed = LAYERS.slice(0, level).flat();
    return {
      target: `./src/${folder}`,
      from: forbidden.map((other) => `./src/${other}`),
      message: `src/${folder} may import only from ${allowed.length ? allowed.map((f) => `src/${f}`).join(', ') : 'npm packages'} (see the layer list in eslint.config.mjs).`,
    };
  }),
);
const endpointZone = {
  target: `./src/${ENDPOINT}`,
  from: LAYERS.flat()
    .filter((folder) => folder !== 'support')
    .map((folder) => `./src/${folder}`),
  message: `src/${ENDPOINT} is its own product: it imports only src/support and npm packages, never the pipeline.`,
};

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.stack/', '.data/', 'coverage/', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/**/*.ts'],
    plugins: { import: importPlugin },
    settings: { 'import/resolver': { node: { extensions: ['.ts', '.d.ts', '.js', '.json'] } } },
    rules: {
      'import/no-restricted-paths': ['error', { zones: [...layerZones, endpointZone] }],
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no Node built-ins at any depth, and activities
    // only as types (their code runs on the worker, reached through proxyActivities).
    files: ['src/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({
            name,
            message: 'Workflow code must be deterministic: no Node built-ins under src/workflows/.',
          })),
        },
      ],
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(\\.\\./)+activities(/|$)',
              allowTypeImports: true,
              message:
                'Workflows import activities as types only (`import type`): activity code runs on the worker, through proxyActivities.',
            },
          ],
        },
      ],
    },
  },
  prettier,
);
