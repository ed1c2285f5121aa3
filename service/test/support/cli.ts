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
