// eslint.config.js: lint rules, including the layer boundaries of ../shared/STYLE.md rule 1.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const ADAPTERS = ['csi', 'rds', 'node', 'k8s', 'observability'];
const INNER = ['machines', 'actors'];

/** Imports point inward: leaves <- machines <- actors <- adapters <- main.ts. */
const layerZones = [
  // Leaves import no other layer.
  ...['errors.ts', 'ports.ts', 'config.ts', 'naming.ts', 'keyed-queue.ts', 'loopback.ts'].map(
    (leaf) => ({
      target: `./src/${leaf}`,
      from: ['./src/main.ts', './src/cli.ts', ...[...INNER, ...ADAPTERS].map((d) => `./src/${d}`)],
      message:
        'leaves (errors, ports, config, naming, keyed-queue, loopback) import nothing from other layers',
    }),
  ),
  {
    target: './src/machines',
    from: ['./src/main.ts', './src/actors', ...ADAPTERS.map((d) => `./src/${d}`)],
    message: 'machines are pure: xstate and leaves only',
  },
  {
    target: './src/actors',
    from: ['./src/main.ts', ...ADAPTERS.map((d) => `./src/${d}`)],
    message: 'actors import machines and leaves, never adapters',
  },
  // Adapters never import each other, nor the composition root.
  ...ADAPTERS.map((adapter) => ({
    target: `./src/${adapter}`,
    from: [
      './src/main.ts',
      './src/cli.ts',
      ...ADAPTERS.filter((d) => d !== adapter).map((d) => `./src/${d}`),
    ],
    message: 'adapters never import each other; pass what they need through a port from main.ts',
  })),
  // The RouterOS emulator is a separate program beside the client.
  {
    target: './src/rds/emulator',
    from: './src/rds',
    except: ['./emulator'],
    message: 'the emulator must not share code with the RDS client',
  },
  {
    target: ['./src/rds/*.ts', './src/rds/!(emulator)/**/*'],
    from: './src/rds/emulator',
    message: 'the RDS client must not know the emulator',
  },
];

export default tseslint.config(
  {
    ignores: ['dist/', 'node_modules/', '.tools/', '.rds-csi/', 'src/csi/generated/', 'coverage/'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver-next': [createTypeScriptImportResolver()] },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'no-async-promise-executor': 'error',
      'import-x/no-restricted-paths': ['error', { zones: layerZones }],
      eqeqeq: 'error',
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/**/*.test.ts'],
    rules: { 'no-console': 'error' },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: globals.node,
    },
  },
  prettier,
);
