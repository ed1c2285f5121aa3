import { spawn, type ChildProcess } from 'node:child_process'
import { waitFor } from '@sugang/testkit/wait'

export interface ManagedProcess {
  readonly name: string
  readonly child: ChildProcess
  /** Everything the process wrote to stdout and stderr so far (the last 64 KiB). */
  output(): string
  /** Resolves with the exit code (or signal) once the process has exited. */
  readonly exited: Promise<number | NodeJS.Signals>
  /** SIGTERM, then SIGKILL after graceMs; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>
}

const OUTPUT_LIMIT = 64 * 1024

export interface SpawnOptions {
  readonly env?: NodeJS.ProcessEnv
  readonly cwd?: string
  /** Copy the process's output to this stream as it comes (for a demo in a terminal). */
  readonly echo?: NodeJS.WritableStream
}

/** Starts a long-running child process whose output is kept for error messages. */
export function startProcess(
  name: string,
  command: string,
  args: readonly string[],
  options: SpawnOptions = {},
): ManagedProcess {
  const child = spawn(command, args, {
    env: options.env ?? process.env,
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const collect = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_LIMIT)
    options.echo?.write(chunk)
  }
  child.stdout?.on('data', collect)
  child.stderr?.on('data', collect)
  const exited = new Promise<number | NodeJS.Signals>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'SIGKILL'))
    child.once('error', (err) => {
      output += `\n${name} failed to start: ${err.message}`
      resolve(-1)
    })
  })
  let stopping: Promise<void> | null = null
  return {
    name,
    child,
    output: () => output,
    exited,
    stop(graceMs = 5_000) {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
          await exited
          return
        }
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
        await exited
        clearTimeout(timer)
      })()
      return stopping
    },
  }
}

/** GET with a bounded time; resolves with status and body, rejects on connection errors. */
export async function httpGet(
  url: string,
  timeoutMs = 5_000,
): Promise<{ status: number; body: string }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
  return { status: response.status, body: await response.text() }
}

/** Waits until `url` answers 200; fails at once, with the process's output, if it dies first. */
export async function waitUntilReady(
  url: string,
  proc: ManagedProcess,
  timeoutMs = 30_000,
): Promise<void> {
  let settled = false
  const died = new Promise<never>((_, reject) => {
    void proc.exited.then((code) => {
      if (!settled) {
        reject(
          new Error(`${proc.name} exited (${code}) before ${url} was ready:\n${proc.output()}`),
        )
      }
    })
  })
  const ready = waitFor(
    `${url} to answer 200`,
    async () => ((await httpGet(url, 2_000)).status === 200 ? true : undefined),
    { timeoutMs },
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\n${proc.name} output:\n${proc.output()}`)
  })
  try {
    await Promise.race([ready, died])
  } finally {
    settled = true
  }
}
