// eslint.config.js: lint rules, including the layer boundaries (ARCHITECTURE.md, "Layers").
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const ADAPTERS = ['csi', 'rds', 'node', 'k8s', 'observability'];
const INNER = ['machines', 'actors'];
/** The composition root: main.ts and the wiring it calls; cli.ts and cli/ are the entry. */
const ROOT = ['./src/main.ts', './src/wiring', './src/cli.ts', './src/cli'];
const dirs = (names) => names.map((d) => `./src/${d}`);

/**
 * Imports point inward: leaves (errors, ports) <- domain <- config <- machines <- actors <-
 * adapters <- wiring <- main.ts. Only main.ts imports wiring/ and the concrete adapters together.
 */
const layerZones = [
  {
    target: ['./src/errors.ts', './src/ports.ts'],
    from: ['./src/domain', './src/config', ...ROOT, ...dirs([...INNER, ...ADAPTERS])],
    message: 'leaves (errors.ts, ports.ts) import nothing from src/',
  },
  {
    target: './src/domain',
    from: ['./src/ports.ts', './src/config', ...ROOT, ...dirs([...INNER, ...ADAPTERS])],
    message: 'domain/ (names, rules, small pure building blocks) imports nothing but errors.ts',
  },
  {
    target: './src/config',
    from: [...ROOT, ...dirs([...INNER, ...ADAPTERS])],
    message: 'config/ imports only domain/ and the leaves',
  },
  {
    target: './src/machines',
    from: ['./src/config', ...ROOT, './src/actors', ...dirs(ADAPTERS)],
    message: 'machines are pure: xstate, domain and leaves only',
  },
  {
    target: './src/actors',
    from: ['./src/config', ...ROOT, ...dirs(ADAPTERS)],
    message: 'actors import machines, domain and leaves, never adapters or the config',
  },
  // Adapters never import each other, the config, nor the composition root.
  ...ADAPTERS.map((adapter) => ({
    target: `./src/${adapter}`,
    from: ['./src/config', ...ROOT, ...dirs(ADAPTERS.filter((d) => d !== adapter))],
    message:
      'adapters never import each other or the config; pass what they need through a port from wiring/',
  })),
  {
    target: './src/wiring',
    from: ['./src/main.ts', './src/cli.ts', './src/cli'],
    message: 'wiring/ is called by main.ts; it never imports main.ts or the cli',
  },
  {
    target: './src/cli',
    from: ['./src/main.ts', './src/wiring', './src/config', ...dirs(ADAPTERS)],
    message: 'cli/ subcommands read a running driver over its endpoints, not its adapters',
  },
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
