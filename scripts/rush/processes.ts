// Child processes of a run: service instances, the proxy in front of them, the baselines.
// Loopback only; every process is stopped when its target is done.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url))
export const sugangCli = join(repoRoot, 'service/bin/sugang.js')

/**
 * Compiles the service as its image does (tsc, then the Lua scripts and the page beside it) into
 * a directory of its own, and returns a launcher of that build: the benchmark measures the
 * JavaScript production runs, not the TypeScript loader. The directory sits inside the service
 * workspace so that the build finds its packages; service/dist is left alone (bin/sugang.js
 * prefers it, and the service's own tests must keep running the sources).
 */
export function buildService(): string {
  const out = join(repoRoot, 'service/.bench-build')
  rmSync(out, { recursive: true, force: true })
  const tsc = join(repoRoot, 'node_modules/typescript/bin/tsc')
  execFileSync(process.execPath, [
    tsc,
    '-p',
    join(repoRoot, 'service/tsconfig.build.json'),
    '--outDir',
    out,
    '--sourceMap',
    'false',
  ])
  mkdirSync(join(out, 'adapters/redis'), { recursive: true })
  cpSync(join(repoRoot, 'service/src/adapters/redis/lua'), join(out, 'adapters/redis/lua'), {
    recursive: true,
  })
  cpSync(join(repoRoot, 'service/src/web'), join(out, 'web'), { recursive: true })
  const launcher = join(out, 'sugang.mjs')
  writeFileSync(
    launcher,
    "const cli = await import('./cli.js')\nprocess.exitCode = await cli.main(process.argv.slice(2))\n",
  )
  return launcher
}

export interface Running {
  readonly name: string
  readonly child: ChildProcess
  readonly pid: number
  /** The last lines it wrote to stderr, for the error message when it dies. */
  readonly log: () => string
  stop(): Promise<void>
}

/** `env` adds to this process's environment; a variable given as undefined is left unset. */
export function run(
  name: string,
  command: string,
  args: string[],
  env: Record<string, string | undefined>,
): Running {
  const child = spawn(command, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let tail = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-4000)
  })
  return {
    name,
    child,
    pid: child.pid ?? 0,
    log: () => tail,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve()
        const kill = setTimeout(() => child.kill('SIGKILL'), 20_000)
        child.once('exit', () => {
          clearTimeout(kill)
          resolve()
        })
        child.kill('SIGTERM')
      }),
  }
}

/** Waits until `url` answers 200 (the process is ready), or fails with the process's log. */
export async function ready(proc: Running, url: string, timeoutMs = 120_000): Promise<void> {
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    if (proc.child.exitCode !== null) {
      throw new Error(`${proc.name} exited with ${proc.child.exitCode}:\n${proc.log()}`)
    }
    const ok = await fetch(url).then(
      (r) => r.ok,
      () => false,
    )
    if (ok) return
    await sleep(100)
  }
  await proc.stop()
  throw new Error(`${proc.name} was not ready at ${url} in ${timeoutMs} ms:\n${proc.log()}`)
}

/**
 * Connections the proxy takes from the students, and holds to each instance at once (more wait in
 * its queue): a student's event stream holds one of each for as long as it is open.
 */
export const PROXY_CONNECTIONS = { total: 8000, perInstance: 1000 } as const

/**
 * HAProxy in front of several instances, round robin, as a stand-in for the ALB: one process,
 * keep-alive to the clients and reused connections to the instances.
 */
export async function startProxy(port: number, backends: readonly number[]): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), 'sugang-proxy-'))
  const config = join(dir, 'haproxy.cfg')
  writeFileSync(
    config,
    [
      'global',
      `  maxconn ${PROXY_CONNECTIONS.total}`,
      '  nbthread 1',
      'defaults',
      '  mode http',
      '  timeout connect 5s',
      '  timeout client 120s',
      '  timeout server 120s',
      '  timeout http-keep-alive 120s',
      '  option http-keep-alive',
      '  http-reuse always',
      'frontend students',
      `  bind 127.0.0.1:${port}`,
      '  default_backend instances',
      'backend instances',
      '  balance roundrobin',
      '  option httpchk GET /health/ready',
      ...backends.map(
        (p, i) =>
          `  server i${i + 1} 127.0.0.1:${p} check inter 2s maxconn ${PROXY_CONNECTIONS.perInstance}`,
      ),
      '',
    ].join('\n'),
  )
  const proc = run('haproxy', 'haproxy', ['-db', '-f', config], {})
  const stop = proc.stop
  const running: Running = {
    ...proc,
    stop: async () => {
      await stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
  await ready(running, `http://127.0.0.1:${port}/health/ready`)
  return running
}
