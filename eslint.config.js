import js from '@eslint/js'
import tseslint from 'typescript-eslint'

/*
 * The service's layers (docs/architecture.md, "Layers"), checked per folder. An import that
 * crosses a layer the wrong way fails with the rule it breaks. Relative imports are matched by the
 * source folder they reach (`../../adapters/...`), whatever the depth of the importing file, and
 * import() by the same patterns as import. For the files two blocks match, the later block's
 * rules replace the earlier one's, so each block lists everything its folder may not import.
 */
const reaches = (...folders) => `(^|/)(${folders.join('|')})/`

function layer({ files, ignores = [], imports, syntax = [] }) {
  return {
    files,
    ignores,
    rules: {
      'no-restricted-imports': ['error', { patterns: imports }],
      'no-restricted-syntax': [
        'error',
        ...imports.map(({ regex, message }) => ({
          // esquery's regular expressions cannot hold a slash, even escaped.
          selector: `ImportExpression[source.value=/${regex.replaceAll('/', '\\x2F')}/]`,
          message,
        })),
        ...syntax,
      ],
    },
  }
}

const ONLY_WIRING_PICKS_ADAPTERS = {
  regex: reaches('adapters'),
  message:
    'only wiring picks adapters: take a service or a port from src/wiring/ (createAdapters, openStore, createNotifier, ...) instead.',
}
const NO_STORE_IN_ROUTES =
  'HTTP knows Fastify and the domain services: app.sugang.store and .rush are for plugins and tests; a route asks a domain service.'

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      '**/cdktf.out/**',
      '**/.gen/**',
      '**/.tap/**',
      '**/coverage/**',
      '**/.bench-build/**',
      '**/bench-results/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        Buffer: 'readonly',
        fetch: 'readonly',
        AbortController: 'readonly',
        structuredClone: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'no-console': 'off',
    },
  },
  {
    // Type-aware rules for the TypeScript sources: a promise nobody awaits or handles is how a
    // failure turns into a hang or an unhandled rejection.
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        // tap runs the subtests a test file declares; the file need not await them.
        {
          allowForKnownSafePromises: [
            { from: 'package', package: '@tapjs/core', name: 'PromiseWithSubtest' },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/require-await': 'off',
    },
  },
  layer({
    // Entry points (cli.ts, server.ts, app.ts, lambda/) and the modules beside them call wiring,
    // which picks the adapters; none of them names one. config.ts is the one exception: it checks
    // REDIS_COURSE_GROUPS against the Redis key schema's limits (adapters/redis/keys.ts).
    files: ['service/src/**/*.ts'],
    ignores: ['service/src/wiring/**', 'service/src/adapters/**', 'service/src/config.ts'],
    imports: [ONLY_WIRING_PICKS_ADAPTERS],
  }),
  layer({
    files: ['service/src/domain/**/*.ts'],
    imports: [
      {
        regex: '^\\.\\./',
        message:
          'domain knows only the ports: it imports its own modules (src/domain/, ports.ts among them) and Node built-ins, never adapters, wiring, HTTP (routes, plugins, schemas) or an entry point.',
      },
      {
        regex: '^(?!node:|\\.)',
        message:
          'domain knows only the ports: no driver, framework or logger package (fastify, ioredis, mysql2, better-sqlite3, pino, ...); declare what it needs as a port in src/domain/ports.ts.',
      },
    ],
  }),
  layer({
    files: ['service/src/routes/**/*.ts', 'service/src/schemas/**/*.ts'],
    imports: [
      {
        regex: reaches('adapters', 'wiring'),
        message:
          'HTTP knows Fastify and the domain services: a route takes its services off app.sugang, never an adapter or the wiring.',
      },
    ],
    syntax: [
      {
        selector: "MemberExpression[object.property.name='sugang'][property.name=/^(store|rush)$/]",
        message: NO_STORE_IN_ROUTES,
      },
      {
        selector:
          "VariableDeclarator[init.property.name='sugang'] > ObjectPattern > Property[key.name=/^(store|rush)$/]",
        message: NO_STORE_IN_ROUTES,
      },
    ],
  }),
  layer({
    files: ['service/src/plugins/**/*.ts'],
    imports: [
      {
        regex: reaches('adapters'),
        message:
          'HTTP knows Fastify and the domain services: a plugin gets adapters and services from wiring (registration.ts), never an adapter itself.',
      },
    ],
  }),
  layer({
    files: ['service/src/adapters/**/*.ts'],
    imports: [
      {
        regex: `${reaches('routes', 'plugins', 'schemas', 'wiring', 'lambda')}|(^|/)(app|cli|server|notifier)\\.js$`,
        message:
          'adapters translate one storage each: they know the ports (src/domain/), never HTTP, wiring or an entry point.',
      },
    ],
  }),
  layer({
    files: ['service/src/wiring/**/*.ts'],
    imports: [
      {
        regex: reaches('routes', 'plugins', 'schemas'),
        message:
          'wiring builds adapters and services; HTTP depends on it, not the other way round (a type both need lives in wiring or the domain).',
      },
    ],
  }),
)
