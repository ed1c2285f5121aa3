import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { main } from '../../src/cli.js'

/**
 * Runs `sugang <args>` in this process with `env` added to its environment (tap runs each test
 * file in a process of its own), returning the exit code and what it printed on stdout.
 */
export async function sugang(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; out: string }> {
  const saved = { ...process.env }
  const lines: string[] = []
  const log = console.log
  Object.assign(process.env, env)
  console.log = (...parts: unknown[]) => lines.push(parts.join(' '))
  try {
    return { code: await main(args), out: lines.join('\n') }
  } finally {
    console.log = log
    process.env = saved
  }
}

const CLI = fileURLToPath(new URL('../../bin/sugang.js', import.meta.url))
const SERVICE_DIR = fileURLToPath(new URL('../..', import.meta.url))

/**
 * Runs `sugang <args>` to its end in a process of its own, as an operator runs it in a shell:
 * the exit code, stdout and stderr.
 */
export function sugangProcess(
  args: string[],
  env: Record<string, string | undefined>,
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: SERVICE_DIR,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, out, err }))
  })
}
