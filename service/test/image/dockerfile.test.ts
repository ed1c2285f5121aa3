/**
 * The Dockerfile's rules, read with dockerfile-ast. Each rule is also run on a copy of the
 * Dockerfile broken the way the rule forbids, so none of them can pass by checking nothing.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { JSONInstruction } from 'dockerfile-ast'
import t from 'tap'
import {
  REPO_ROOT,
  argumentsText,
  dockerignore,
  execForm,
  flagsOf,
  healthcheckCommand,
  imageOf,
  ofKeyword,
  parseDockerfile,
  readDockerfile,
  type ParsedDockerfile,
  type Stage,
} from './dockerfile.js'

interface Rule {
  readonly name: string
  /** What breaks the rule; an empty list when it holds. */
  check(dockerfile: ParsedDockerfile): string[]
  /** Edits of the Dockerfile's text that each break the rule. */
  readonly breaches: ReadonlyArray<readonly [description: string, edit: (text: string) => string]>
}

const finalStage = (d: ParsedDockerfile): Stage => {
  const stage = d.stages.at(-1)
  if (!stage) throw new Error('the Dockerfile has no FROM')
  return stage
}

const runCommands = (stage: Stage): string[] =>
  ofKeyword(stage.instructions, 'RUN').map(argumentsText)

/** The value of each ENV, ARG and LABEL property in the file, by name. */
const properties = (d: ParsedDockerfile, keyword: string): Array<[string, string]> =>
  [...d.globalInstructions, ...d.stages.flatMap((s) => s.instructions)]
    .filter((i) => i.getKeyword() === keyword)
    .flatMap((i) =>
      (i as unknown as { getProperties(): Array<{ getName(): string; getValue(): string | null }> })
        .getProperties()
        .map((p): [string, string] => [p.getName(), p.getValue() ?? '']),
    )

/** Replaces text that must be there: an edit that no longer applies fails, not passes. */
const replace =
  (from: string | RegExp, to: string) =>
  (text: string): string => {
    const edited = text.replace(from, to)
    if (edited === text) throw new Error(`the breach no longer applies: ${String(from)} not found`)
    return edited
  }
const append = (line: string) => (text: string) => `${text}\n${line}\n`

const SECRET_NAME = /SECRET|PASSW(OR)?D|TOKEN|API_?KEY|PRIVATE|CREDENTIAL|ACCESS_KEY/i
const SECRET_VALUE = [
  /\/\/[^/\s:@]+:[^/\s@]+@/, // credentials in a URL
  /AKIA[0-9A-Z]{16}/, // an AWS access key id
  /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
  /\b(ghp|gho|github_pat|glpat|xox[abp])_?[A-Za-z0-9_]{16,}/, // GitHub, GitLab, Slack tokens
]
const SHELLS_AND_RUNNERS = /^(\/bin\/|\/usr\/bin\/)?(sh|bash|ash|dash|npm|npx|yarn|pnpm)$/

const RULES: Rule[] = [
  {
    name: 'multi-stage: the runtime stage copies the build output from a build stage',
    check: (d) => {
      const last = finalStage(d)
      const earlier = new Set(d.stages.slice(0, -1).map((s) => s.name))
      const fromBuild = ofKeyword<JSONInstruction>(last.instructions, 'COPY').filter((c) =>
        earlier.has(flagsOf(c).get('from') ?? null),
      )
      return d.stages.length < 2 || fromBuild.length === 0
        ? [`${d.stages.length} stage(s), ${fromBuild.length} COPY --from an earlier one`]
        : []
    },
    breaches: [['one stage', replace(/^FROM .* AS runtime$/m, '')]],
  },
  {
    name: 'every FROM names an exact release (x.y.z), and all stages the same Node',
    check: (d) => {
      const images = d.stages.map((s) => imageOf(s, d.globalArgs))
      const loose = images.filter((image) => {
        const [, tag] = /^[^:@]+(?::([^@]+))?/.exec(image) ?? []
        return !/^v?\d+\.\d+\.\d+(-[a-z0-9.-]+)?$/.test(tag ?? '') || /latest/.test(image)
      })
      const different = new Set(images).size > 1 ? [`stages differ: ${images.join(', ')}`] : []
      return [...loose.map((image) => `not pinned: ${image}`), ...different]
    },
    breaches: [
      ['a major version only', replace('ARG NODE_VERSION=24.22.3', 'ARG NODE_VERSION=24')],
      [
        'latest',
        replace(
          /^FROM node:\$\{NODE_VERSION\}-bookworm-slim AS runtime/m,
          'FROM node:latest AS runtime',
        ),
      ],
      [
        'no tag',
        replace(/^FROM node:\$\{NODE_VERSION\}-bookworm-slim AS runtime/m, 'FROM node AS runtime'),
      ],
    ],
  },
  {
    name: 'dependencies come from the lockfile: npm ci, never npm install',
    check: (d) => {
      const runs = d.stages.flatMap(runCommands)
      const installs = runs.filter((r) => /\b(npm\s+(install|i|add|update|up)|yarn|pnpm)\b/.test(r))
      return installs.map((r) => `not lockfile-driven: ${r}`)
    },
    breaches: [
      [
        'npm install',
        replace(
          'npm ci --workspace service --omit=dev',
          'npm install --workspace service --omit=dev',
        ),
      ],
      [
        'npm i',
        replace(
          'npm ci --workspace service --include-workspace-root',
          'npm i --workspace service --include-workspace-root',
        ),
      ],
    ],
  },
  {
    name: 'the runtime stage installs production dependencies only (--omit=dev, --omit=optional)',
    check: (d) => {
      const installs = runCommands(finalStage(d)).filter((r) => /\bnpm\s+ci\b/.test(r))
      return installs.length > 0 &&
        installs.every((r) => /--omit[= ]dev\b/.test(r) && /--omit[= ]optional\b/.test(r))
        ? []
        : [`runtime installs: ${installs.join('; ') || 'none'}`]
    },
    breaches: [
      ['dev dependencies', replace('--omit=dev ', '')],
      ['better-sqlite3', replace('--omit=dev --omit=optional', '--omit=dev')],
    ],
  },
  {
    name: 'the service runs as a user that is not root',
    check: (d) => {
      const user = ofKeyword(finalStage(d).instructions, 'USER').map(argumentsText).at(-1)
      const name = user?.split(':')[0]
      return !name || name === 'root' || name === '0' ? [`USER ${user ?? '(none)'}`] : []
    },
    breaches: [
      ['root', replace('USER 1000:1000', 'USER root')],
      ['uid 0', replace('USER 1000:1000', 'USER 0:0')],
      ['no USER', replace(/^USER .*$/m, '')],
    ],
  },
  {
    name: 'nothing is ADDed from a URL',
    check: (d) =>
      d.stages
        .flatMap((s) => ofKeyword(s.instructions, 'ADD'))
        .map(argumentsText)
        .filter((a) => /(^|\s)(https?|ftp|git):\/\/|(^|\s)git@/.test(a))
        .map((a) => `ADD ${a}`),
    breaches: [['a download', append('ADD https://example.com/tool.tar.gz /opt/')]],
  },
  {
    name: 'no ENV, ARG or LABEL looks like a secret, by name or by value',
    check: (d) =>
      ['ENV', 'ARG', 'LABEL']
        .flatMap((keyword) => properties(d, keyword))
        .filter(
          ([name, value]) => SECRET_NAME.test(name) || SECRET_VALUE.some((p) => p.test(value)),
        )
        .map(([name]) => name),
    breaches: [
      ['a password', append('ENV SESSION_SECRET=not-so-secret-at-all-32-bytes-long')],
      ['a token argument', append('ARG NPM_TOKEN')],
      ['a URL with credentials', append('ENV DATABASE_URL=mysql://sugang:hunter2@db:3306/sugang')],
      ['an access key', append('ARG KEY_ID=AKIAIOSFODNN7EXAMPLE')],
    ],
  },
  {
    name: 'HEALTHCHECK asks /health/live with node, in exec form (the image has no curl)',
    check: (d) => {
      const checks = ofKeyword(finalStage(d).instructions, 'HEALTHCHECK')
      if (checks.length !== 1) return [`${checks.length} HEALTHCHECKs`]
      let argv: string[] | null
      try {
        argv = healthcheckCommand(checks[0] as JSONInstruction)
      } catch (err) {
        return [(err as Error).message]
      }
      return argv?.[0] === 'node' && argv.some((a) => a.includes('/health/live'))
        ? []
        : [`HEALTHCHECK ${JSON.stringify(argv)}`]
    },
    breaches: [
      ['readiness', replace("'/health/live'", "'/health/ready'")],
      ['curl', replace('CMD ["node", "-e",', 'CMD ["curl", "-e",')],
      ['shell form', replace(/CMD \["node", "-e", (".*")\]$/m, 'CMD node -e $1')],
      ['none', replace(/^HEALTHCHECK[^\n]*\\\n[^\n]*\n/m, '')],
    ],
  },
  {
    name: 'CMD and ENTRYPOINT run node directly, in exec form: no shell, no npm',
    check: (d) => {
      const last = finalStage(d)
      const forms = ['ENTRYPOINT', 'CMD'].flatMap((keyword) =>
        ofKeyword<JSONInstruction>(last.instructions, keyword).slice(-1),
      )
      const argvs = forms.map(execForm)
      if (argvs.some((argv) => argv === null)) return ['shell form']
      const argv = argvs.flatMap((a) => a ?? [])
      return argv[0] === 'node' &&
        !argv.some((a) => SHELLS_AND_RUNNERS.test(a)) &&
        argv.includes('service/bin/sugang.js') &&
        argv.at(-1) === 'serve'
        ? []
        : [`runs ${JSON.stringify(argv)}`]
    },
    breaches: [
      [
        'shell form',
        replace(
          'CMD ["node", "service/bin/sugang.js", "serve"]',
          'CMD node service/bin/sugang.js serve',
        ),
      ],
      ['npm', replace('CMD ["node", "service/bin/sugang.js", "serve"]', 'CMD ["npm", "start"]')],
      [
        'a shell',
        replace(
          'CMD ["node", "service/bin/sugang.js", "serve"]',
          'CMD ["sh", "-c", "node service/bin/sugang.js serve"]',
        ),
      ],
      ['an entrypoint shell', append('ENTRYPOINT ["/bin/sh", "-c"]')],
    ],
  },
  {
    name: 'ENV sets the listeners the service reads, and EXPOSE opens both ports',
    check: (d) => {
      const config = readFileSync(join(REPO_ROOT, 'service', 'src', 'config.ts'), 'utf8')
      const env = new Map(properties(d, 'ENV'))
      const wanted = { NODE_ENV: 'production', HOST: '0.0.0.0', METRICS_HOST: '0.0.0.0' }
      const exposed = ofKeyword(finalStage(d).instructions, 'EXPOSE').flatMap((e) =>
        e.getArguments().map((a) => a.getValue().replace(/\/tcp$/, '')),
      )
      return [
        ...[...env.keys()]
          .filter((name) => !new RegExp(`\\benv\\.${name}\\b|'${name}'`).test(config))
          .map((name) => `ENV ${name} is not read by service/src/config.ts`),
        ...Object.entries(wanted)
          .filter(([name, value]) => env.get(name) !== value)
          .map(([name, value]) => `ENV ${name} is not ${value}`),
        ...['PORT', 'METRICS_PORT']
          .filter((name) => !env.get(name) || !exposed.includes(env.get(name) as string))
          .map((name) => `${name} ${env.get(name) ?? '(unset)'} is not exposed`),
      ]
    },
    breaches: [
      ['one port', replace('EXPOSE 3000 9464', 'EXPOSE 3000')],
      ['a name the service does not read', replace('METRICS_HOST=0.0.0.0', 'METRIC_HOST=0.0.0.0')],
      ['loopback only', replace('    HOST=0.0.0.0', '    HOST=127.0.0.1')],
      ['not production', replace('NODE_ENV=production', 'NODE_ENV=development')],
    ],
  },
  {
    name: 'OCI labels: source and revision from build arguments, title, description, licenses',
    check: (d) => {
      const labels = new Map(
        ofKeyword(finalStage(d).instructions, 'LABEL').flatMap((l) =>
          (
            l as unknown as {
              getProperties(): Array<{ getName(): string; getValue(): string | null }>
            }
          )
            .getProperties()
            .map((p): [string, string] => [p.getName(), p.getValue() ?? '']),
        ),
      )
      const args = new Set(
        ofKeyword(finalStage(d).instructions, 'ARG').map((a) => argumentsText(a).split('=')[0]),
      )
      const fromArg = (label: string, arg: string) =>
        labels.get(label) === `\${${arg}}` && args.has(arg) ? [] : [`${label} is not \${${arg}}`]
      return [
        ...fromArg('org.opencontainers.image.source', 'SOURCE_URL'),
        ...fromArg('org.opencontainers.image.revision', 'REVISION'),
        ...['title', 'description', 'licenses']
          .map((name) => `org.opencontainers.image.${name}`)
          .filter((label) => !labels.get(label))
          .map((label) => `no ${label}`),
      ]
    },
    breaches: [
      ['no revision', replace(/ \\\n\s*org\.opencontainers\.image\.revision="\$\{REVISION\}"/, '')],
      ['a fixed source', replace('"${SOURCE_URL}"', '"https://example.com/sugang"')],
      ['no build argument', replace(/^ARG REVISION=.*$/m, '')],
      ['no licence', replace(/\s*org\.opencontainers\.image\.licenses="UNLICENSED" \\/, '')],
    ],
  },
]

const text = readDockerfile()
const dockerfile = parseDockerfile(text)

for (const rule of RULES) {
  t.test(rule.name, async (t) => {
    t.same(rule.check(dockerfile), [], 'the Dockerfile keeps it')
    for (const [description, edit] of rule.breaches) {
      t.notSame(rule.check(parseDockerfile(edit(text))), [], `and it catches ${description}`)
    }
  })
}

t.test(
  'the build context leaves out installed trees, build output, local data and secrets',
  async (t) => {
    const ignored = dockerignore(readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8'))
    const left = [
      '.git/HEAD',
      'node_modules/fastify/package.json',
      'service/node_modules/.bin/tap',
      'service/dist/cli.js',
      'service/test-output/browser/page.png',
      'service/.tap/processinfo/x.json',
      'service/data/sugang.sqlite',
      'data/sugang.sqlite',
      'scratch.sqlite-wal',
      '.env',
      'service/.env.local',
      'infra/cdktf.out/manifest.json',
      'npm-debug.log',
    ]
    const kept = [
      'package.json',
      'package-lock.json',
      'tsconfig.base.json',
      'service/package.json',
      'service/tsconfig.build.json',
      'service/src/cli.ts',
      'service/src/web/index.html',
      'service/bin/sugang.js',
    ]
    t.same(
      left.filter((path) => !ignored(path)),
      [],
      'left out',
    )
    t.same(kept.filter(ignored), [], 'what the Dockerfile copies is kept')
  },
)
