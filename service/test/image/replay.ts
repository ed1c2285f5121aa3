// Replays a Dockerfile's build on this machine, without Docker: each stage gets a directory that
// stands for its filesystem, with the base image's Node binary at /usr/local/bin/node (all the
// official node image adds that matters here), and every WORKDIR, COPY, ARG, ENV and RUN is
// carried out in order. Whatever the replay does not know fails the build rather than being
// skipped, so the test cannot quietly drift from the Dockerfile.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { copyFile, cp, mkdir, readFile, stat } from 'node:fs/promises'
import { basename, dirname, join, posix } from 'node:path'
import type { Instruction, JSONInstruction } from 'dockerfile-ast'
import {
  argumentsText,
  dockerignore,
  execForm,
  flagsOf,
  healthcheckCommand,
  imageOf,
  type ParsedDockerfile,
  substitute,
} from './dockerfile.js'

export interface ReplayOptions {
  readonly dockerfile: ParsedDockerfile
  /** The build context (the repository root). */
  readonly context: string
  /** An empty directory to hold every stage's filesystem. */
  readonly root: string
  /** The Node binary the base image ships. */
  readonly node: string
  /** `--build-arg`s. */
  readonly buildArgs?: Readonly<Record<string, string>>
  /** Progress and each RUN's output. */
  readonly log: (text: string) => void
}

export interface ReplayedStage {
  readonly name: string
  readonly image: string
  /** The directory that stands for the stage's `/`. */
  readonly fs: string
  /** The last WORKDIR, as a path inside the stage. */
  readonly workdir: string
  readonly env: ReadonlyMap<string, string>
  readonly labels: ReadonlyMap<string, string>
  readonly user: string | null
  readonly entrypoint: readonly string[]
  readonly cmd: readonly string[]
  /** HEALTHCHECK's command (exec form), or null. */
  readonly healthcheck: readonly string[] | null
  /** Where a path inside the stage is on this machine. */
  hostPath(path: string): string
}

/** What a RUN step may see of this machine: npm's cache and settings, certificates, proxies. */
const HOST_VARIABLES =
  /^(HOME|TMPDIR|NODE_EXTRA_CA_CERTS|SSL_CERT_FILE|SSL_CERT_DIR|https?_proxy|no_proxy)$/i

/** Instructions that describe the image without changing its files. */
const METADATA = new Set(['LABEL', 'EXPOSE', 'USER', 'HEALTHCHECK', 'CMD', 'ENTRYPOINT'])

export async function replay(options: ReplayOptions): Promise<ReplayedStage[]> {
  const { dockerfile, context, root } = options
  const ignored = dockerignore(
    await readFile(join(context, '.dockerignore'), 'utf8').catch(() => ''),
  )
  const done: ReplayedStage[] = []
  for (const [index, stage] of dockerfile.stages.entries()) {
    const name = stage.name ?? String(index)
    const fs = join(root, name)
    const hostPath = (path: string) => join(fs, posix.resolve('/', path))
    const image = imageOf(stage, dockerfile.globalArgs)
    options.log(`stage ${name} (FROM ${image})`)
    await mkdir(hostPath('/usr/local/bin'), { recursive: true })
    await copyFile(options.node, hostPath('/usr/local/bin/node'))

    let workdir = '/'
    const args = new Map<string, string>()
    const env = new Map<string, string>()
    const labels = new Map<string, string>()
    let user: string | null = null
    let entrypoint: string[] = []
    let cmd: string[] = []
    let healthcheck: string[] | null = null
    const vars = () => new Map([...args, ...env])

    for (const instruction of stage.instructions) {
      const keyword = instruction.getKeyword()
      switch (keyword) {
        case 'ARG':
          for (const property of (instruction as ArgLike).getProperties()) {
            const argName = property.getName()
            const value =
              options.buildArgs?.[argName] ??
              property.getValue() ??
              dockerfile.globalArgs.get(argName) ??
              ''
            args.set(argName, value)
          }
          break
        case 'ENV':
          for (const property of (instruction as ArgLike).getProperties()) {
            env.set(property.getName(), substitute(property.getValue() ?? '', vars()))
          }
          break
        case 'LABEL':
          for (const property of (instruction as ArgLike).getProperties()) {
            labels.set(property.getName(), substitute(property.getValue() ?? '', vars()))
          }
          break
        case 'WORKDIR':
          workdir = posix.resolve(workdir, substitute(argumentsText(instruction), vars()))
          await mkdir(hostPath(workdir), { recursive: true })
          break
        case 'COPY':
          await copy(instruction as JSONInstruction, {
            done,
            context,
            ignored,
            to: (path) => hostPath(posix.resolve(workdir, path)),
            vars: vars(),
          })
          break
        case 'RUN':
          await run(instruction as JSONInstruction, {
            cwd: hostPath(workdir),
            env: {
              ...hostEnvironment(),
              PATH: `${hostPath('/usr/local/bin')}:${process.env.PATH ?? ''}`,
              ...Object.fromEntries(vars()),
            },
            log: options.log,
          })
          break
        case 'USER':
          user = substitute(argumentsText(instruction), vars())
          break
        case 'CMD':
          cmd = execFormOrFail(instruction as JSONInstruction)
          break
        case 'ENTRYPOINT':
          entrypoint = execFormOrFail(instruction as JSONInstruction)
          break
        case 'HEALTHCHECK':
          healthcheck = healthcheckCommand(instruction)
          break
        default:
          if (!METADATA.has(keyword)) {
            throw new Error(`the replay does not know ${keyword} (line ${line(instruction)})`)
          }
      }
    }
    done.push({
      name,
      image,
      fs,
      workdir,
      env,
      labels,
      user,
      entrypoint,
      cmd,
      healthcheck,
      hostPath,
    })
  }
  return done
}

interface ArgLike extends Instruction {
  getProperties(): Array<{ getName(): string; getValue(): string | null }>
}

interface CopyContext {
  readonly done: readonly ReplayedStage[]
  readonly context: string
  readonly ignored: (path: string) => boolean
  /** Where a destination (relative to WORKDIR or absolute) is on this machine. */
  readonly to: (path: string) => string
  readonly vars: ReadonlyMap<string, string>
}

async function copy(instruction: JSONInstruction, c: CopyContext): Promise<void> {
  const flags = flagsOf(instruction)
  for (const flag of flags.keys()) {
    if (flag !== 'from')
      throw new Error(`COPY --${flag} is not replayed (line ${line(instruction)})`)
  }
  const paths = (execForm(instruction) ?? instruction.getArguments().map((a) => a.getValue())).map(
    (p) => substitute(p, c.vars),
  )
  const destination = paths.pop()
  if (!destination || paths.length === 0) throw new Error(`COPY needs a source and a destination`)
  const intoDirectory = destination.endsWith('/') || paths.length > 1
  const fromName = flags.get('from')
  const fromStage = fromName ? c.done.find((s) => s.name === fromName) : undefined
  if (fromName && !fromStage) throw new Error(`COPY --from=${fromName}: no such earlier stage`)

  for (const source of paths) {
    if (/[*?[]/.test(source)) throw new Error(`COPY wildcards are not replayed: ${source}`)
    const relative = posix.normalize(source).replace(/^\/+/, '')
    if (!fromStage && c.ignored(relative)) {
      throw new Error(`COPY ${source}: left out of the build context by .dockerignore`)
    }
    const from = fromStage ? fromStage.hostPath(source) : join(c.context, relative)
    const isDirectory = (await stat(from)).isDirectory()
    // A directory's contents are copied, never the directory itself.
    const to =
      intoDirectory && !isDirectory ? join(c.to(destination), basename(from)) : c.to(destination)
    await mkdir(isDirectory ? to : dirname(to), { recursive: true })
    await cp(from, to, {
      recursive: true,
      filter: (path) => {
        if (fromStage) return true
        const inContext = posix.relative(c.context, path.split('\\').join('/'))
        return !c.ignored(inContext)
      },
    })
  }
}

interface RunContext {
  readonly cwd: string
  readonly env: Record<string, string>
  readonly log: (text: string) => void
}

async function run(instruction: JSONInstruction, r: RunContext): Promise<void> {
  for (const [flag, value] of flagsOf(instruction)) {
    // A cache mount only keeps npm's downloads between builds; here npm's own cache does that.
    if (flag === 'mount' && value?.startsWith('type=cache,')) continue
    throw new Error(`RUN --${flag} is not replayed (line ${line(instruction)})`)
  }
  const argv = execForm(instruction) ?? ['/bin/sh', '-c', argumentsText(instruction)]
  r.log(`RUN ${argv.join(' ')}`)
  const child = spawnIsolated(argv, { cwd: r.cwd, env: r.env, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const collect = (chunk: Buffer) => {
    output += chunk.toString('utf8')
  }
  child.stdout?.on('data', collect)
  child.stderr?.on('data', collect)
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', resolve)
  })
  r.log(output)
  if (code !== 0) throw new Error(`RUN ${argv.join(' ')} exited with ${code}:\n${output}`)
}

function execFormOrFail(instruction: JSONInstruction): string[] {
  const argv = execForm(instruction)
  if (!argv)
    throw new Error(`${instruction.getKeyword()} is in shell form (line ${line(instruction)})`)
  return argv
}

/**
 * Spawns argv with exactly the environment given, as a container gets it. The test runner hooks
 * child_process to add its loaders to every child's NODE_OPTIONS (and so to npm, node and the
 * service); `env -i` starts from nothing after that hook has run.
 */
export function spawnIsolated(
  argv: readonly string[],
  options: Omit<SpawnOptions, 'env'> & { env: Readonly<Record<string, string | undefined>> },
): ChildProcess {
  const { env, ...rest } = options
  const assignments = Object.entries(env)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([name, value]) => `${name}=${value}`)
  return spawn('/usr/bin/env', ['-i', '--', ...assignments, ...argv], rest)
}

function hostEnvironment(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      (entry): entry is [string, string] => HOST_VARIABLES.test(entry[0]) && entry[1] !== undefined,
    ),
  )
}

function line(instruction: Instruction): number {
  return instruction.getRange().start.line + 1
}
