// The mutation suite: each entry of mutations.ts breaks the platform the way a hurried change
// or a careless review would, in a copy of the repository, and runs the tests that must catch it.
// A mutation the tests let through is a hole in them. `npm run test:mutations -w infra`.
//
//   tsx mutations/run.ts [--jobs N] [id ...]      (MUTATION_OUTPUT=1 prints each run's output)
//
// Prints one line per mutation and ends with `caught K/N`; exits 1 unless every one is caught.
import { spawn, spawnSync } from 'node:child_process'
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { applyMutation, mutations, type Mutation } from './mutations.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

function parse(argv: readonly string[]): { jobs: number; only: Set<string> } {
  let jobs = Math.max(1, Math.min(2, os.availableParallelism()))
  const only = new Set<string>()
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    if (arg === '--jobs') jobs = Math.max(1, Number(argv[++i]))
    else only.add(arg)
  }
  for (const id of only) {
    if (!mutations.some((m) => m.id === id)) throw new Error(`no mutation ${id}`)
  }
  return { jobs, only }
}

/** A copy of the repository's files as they are in the working tree, sharing node_modules. */
function copyOfRepository(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sugang-mutations-'))
  const listed = spawnSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], {
    cwd: ROOT,
    encoding: 'utf8',
  })
  if (listed.status !== 0) throw new Error(`git ls-files failed: ${listed.stderr}`)
  for (const file of listed.stdout.split('\0').filter(Boolean)) {
    const from = path.join(ROOT, file)
    const to = path.join(dir, file)
    mkdirSync(path.dirname(to), { recursive: true })
    try {
      cpSync(from, to)
    } catch {
      // Listed but deleted in the working tree.
    }
  }
  for (const workspace of ['', 'infra', 'service']) {
    symlinkSync(
      path.join(ROOT, workspace, 'node_modules'),
      path.join(dir, workspace, 'node_modules'),
      'dir',
    )
  }
  return dir
}

interface Outcome {
  readonly mutation: Mutation
  readonly caught: boolean
  readonly by: string
  readonly seconds: number
}

/** Applies one mutation in the copy, runs its tests, and puts the file back. */
async function runOne(copy: string, mutation: Mutation): Promise<Outcome> {
  const file = path.join(copy, mutation.file)
  const original = readFileSync(file, 'utf8')
  writeFileSync(file, applyMutation(original, mutation))
  const started = performance.now()
  try {
    const { code, output } = await tap(path.join(copy, 'infra'), mutation.tests)
    if (process.env.MUTATION_OUTPUT) console.log(output)
    // With --bail, tap names the first failed assertion (or file) as it stops.
    const failed = /^Bail out! (.+)$/m.exec(output)?.[1]
    return {
      mutation,
      caught: code !== 0,
      by: failed ?? (code !== 0 ? lastLine(output) : ''),
      seconds: (performance.now() - started) / 1000,
    }
  } finally {
    writeFileSync(file, original)
  }
}

/** The last line of output that says something, for a failure no assertion names. */
function lastLine(output: string): string {
  const lines = output.split('\n').map((l) => l.trim())
  return (
    lines.filter((l) => /error|fail|throw/i.test(l)).at(-1) ?? lines.filter(Boolean).at(-1) ?? ''
  )
}

function tap(cwd: string, files: readonly string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      path.join(ROOT, 'node_modules', '.bin', 'tap'),
      ['--reporter=tap', '--bail', ...files],
      { cwd, env: { ...process.env, CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code: code ?? 1, output }))
  })
}

async function main(): Promise<void> {
  const { jobs, only } = parse(process.argv.slice(2))
  const chosen = mutations.filter((m) => only.size === 0 || only.has(m.id))
  // Each worker has a copy of its own: two mutations of one file must not meet.
  const copies = Array.from({ length: Math.min(jobs, chosen.length) }, copyOfRepository)
  // A mutation counts as caught only if its tests pass without it.
  const named = [...new Set(chosen.flatMap((m) => m.tests))].sort()
  const baseline = await tap(path.join(copies[0] as string, 'infra'), named)
  if (baseline.code !== 0) {
    for (const copy of copies) rmSync(copy, { recursive: true, force: true })
    console.log(baseline.output.split('\n').slice(-60).join('\n'))
    throw new Error(`the tests fail without any mutation: ${named.join(' ')}`)
  }
  const outcomes: Outcome[] = []
  let next = 0
  await Promise.all(
    copies.map(async (copy) => {
      while (next < chosen.length) {
        const mutation = chosen[next++] as Mutation
        const outcome = await runOne(copy, mutation)
        outcomes.push(outcome)
        const mark = outcome.caught ? 'caught' : 'MISSED'
        console.log(
          `${mark.padEnd(6)} ${mutation.id.padEnd(34)} ${outcome.seconds.toFixed(0).padStart(4)} s  ${
            outcome.caught ? outcome.by : mutation.breaks
          }`,
        )
      }
    }),
  )
  for (const copy of copies) rmSync(copy, { recursive: true, force: true })
  const caught = outcomes.filter((o) => o.caught).length
  const missed = outcomes.filter((o) => !o.caught).map((o) => o.mutation.id)
  console.log(`\ncaught ${caught}/${outcomes.length}`)
  if (missed.length > 0) console.log(`missed: ${missed.join(', ')}`)
  process.exitCode = missed.length === 0 ? 0 : 1
}

await main()
