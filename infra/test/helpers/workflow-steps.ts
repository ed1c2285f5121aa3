// Runs some steps of a GitHub Actions job as the runner does, so a test can watch what a workflow
// does after a failure: each `if:` decided from the outcomes so far (with `success()` implied when
// no status function is named), each `${{ }}` resolved, each `run:` in `bash -eo pipefail`, and
// each step's GITHUB_OUTPUT read back into `steps.<id>.outputs`. A `uses:` step is recorded and
// counts as passed. Only the expression syntax the workflows use is known; anything else throws.
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Value = any

export interface WorkflowStep {
  readonly name?: string
  readonly id?: string
  readonly if?: string
  readonly uses?: string
  readonly run?: string
  readonly env?: Record<string, string>
}

export interface StepResult {
  readonly name: string
  readonly outcome: 'success' | 'failure' | 'skipped'
  readonly output: string
}

export interface JobRun {
  readonly steps: StepResult[]
  /** `failure` once any step failed, as the job's status. */
  readonly status: 'success' | 'failure'
  readonly summary: string
  /** Every step's outcome and outputs, by id, the earlier steps' included. */
  readonly context: Record<string, { outcome: string; outputs: Record<string, string> }>
}

export interface JobRunOptions {
  /** The job's `env:`, resolved before the first step. */
  readonly jobEnv?: Record<string, string>
  /** `vars`, `inputs`, `github` contexts. */
  readonly contexts: Record<string, Value>
  /** Steps that ran before these, by id: their outcome and outputs. */
  readonly earlier?: Record<string, { outcome: string; outputs: Record<string, string> }>
  /** The runner's own environment (PATH, stand-ins' settings). */
  readonly env: Record<string, string>
  readonly cwd: string
}

type Token =
  | { kind: 'op'; value: string }
  | { kind: 'string'; value: string }
  | { kind: 'literal'; value: Value }
  | { kind: 'name'; value: string }

function tokenize(expression: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  while (i < expression.length) {
    const rest = expression.slice(i)
    const space = /^\s+/.exec(rest)
    if (space) {
      i += space[0].length
      continue
    }
    const op = /^(&&|\|\||==|!=|!|\(|\))/.exec(rest)
    if (op) {
      tokens.push({ kind: 'op', value: op[0] })
      i += op[0].length
      continue
    }
    const string = /^'((?:[^']|'')*)'/.exec(rest)
    if (string) {
      tokens.push({ kind: 'string', value: string[1]!.replace(/''/g, "'") })
      i += string[0].length
      continue
    }
    const literal = /^(true|false|null)\b/.exec(rest)
    if (literal) {
      tokens.push({ kind: 'literal', value: JSON.parse(literal[0]) })
      i += literal[0].length
      continue
    }
    const name = /^[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*/.exec(rest)
    if (name) {
      tokens.push({ kind: 'name', value: name[0] })
      i += name[0].length
      continue
    }
    throw new Error(`expression not understood at "${rest}" in: ${expression}`)
  }
  return tokens
}

const truthy = (v: Value) => v !== false && v !== 0 && v !== '' && v !== null && v !== undefined
/** GitHub's number for a value of another type: null is 0, '' is 0, a word is NaN. */
function toNumber(v: Value): number {
  if (v === null || v === undefined) return 0
  if (typeof v === 'boolean') return v ? 1 : 0
  if (typeof v === 'number') return v
  if (typeof v === 'string') return v.trim() === '' ? 0 : Number(v)
  return Number.NaN
}

/**
 * GitHub's `==`: strings without regard to case; values of different types as numbers, so a
 * missing output (null) equals ''.
 */
function equal(a: Value, b: Value): boolean {
  if (typeof a === 'string' && typeof b === 'string') return a.toLowerCase() === b.toLowerCase()
  if (typeof a === typeof b && a !== null && b !== null) return a === b
  return toNumber(a) === toNumber(b)
}

function evaluate(expression: string, lookup: (name: string) => Value, status: Value): Value {
  const tokens = tokenize(expression)
  let at = 0
  const peek = () => tokens[at]
  const take = (value: string) => {
    const token = tokens[at]
    if (token?.kind !== 'op' || token.value !== value) {
      throw new Error(`expected ${value} in: ${expression}`)
    }
    at += 1
  }
  const primary = (): Value => {
    const token = tokens[at++]
    if (!token) throw new Error(`unexpected end of: ${expression}`)
    if (token.kind === 'op' && token.value === '(') {
      const value = or()
      take(')')
      return value
    }
    if (token.kind === 'op' && token.value === '!') return !truthy(primary())
    if (token.kind === 'string' || token.kind === 'literal') return token.value
    if (token.kind === 'name') {
      const next = peek()
      if (next?.kind === 'op' && next.value === '(') {
        take('(')
        take(')')
        return status(token.value)
      }
      return lookup(token.value)
    }
    throw new Error(`unexpected ${token.value} in: ${expression}`)
  }
  const comparison = (): Value => {
    let left = primary()
    for (;;) {
      const token = peek()
      if (token?.kind !== 'op' || (token.value !== '==' && token.value !== '!=')) return left
      at += 1
      const right = primary()
      left = token.value === '==' ? equal(left, right) : !equal(left, right)
    }
  }
  const and = (): Value => {
    let left = comparison()
    while (peek()?.kind === 'op' && peek()!.value === '&&') {
      at += 1
      const right = comparison()
      left = truthy(left) ? right : left
    }
    return left
  }
  const or = (): Value => {
    let left = and()
    while (peek()?.kind === 'op' && peek()!.value === '||') {
      at += 1
      const right = and()
      left = truthy(left) ? left : right
    }
    return left
  }
  const value = or()
  if (at !== tokens.length) throw new Error(`trailing tokens in: ${expression}`)
  return value
}

const unwrap = (expression: string) => {
  const match = /^\s*\$\{\{([\s\S]*)\}\}\s*$/.exec(expression)
  return (match ? match[1]! : expression).trim()
}

function runBash(
  script: string,
  env: Record<string, string>,
  cwd: string,
): Promise<{ code: number; output: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sugang-step-'))
  const file = path.join(dir, 'step.sh')
  writeFileSync(file, script)
  return new Promise((resolve) => {
    const child = spawn('bash', ['--noprofile', '--norc', '-eo', 'pipefail', file], { env, cwd })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.on('close', (code) => resolve({ code: code ?? 1, output }))
  })
}

/** Runs `steps` in order, as one job, after the `earlier` ones. */
export async function runJobSteps(steps: WorkflowStep[], options: JobRunOptions): Promise<JobRun> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'sugang-job-'))
  const summaryFile = path.join(work, 'summary')
  writeFileSync(summaryFile, '')
  const context: JobRun['context'] = { ...(options.earlier ?? {}) }
  let failed = Object.values(context).some((s) => s.outcome === 'failure')
  const contexts = { ...options.contexts, steps: context }
  const lookup = (name: string): Value => {
    let value: Value = contexts
    for (const key of name.split('.')) value = value?.[key]
    return value ?? null
  }
  const status = (name: string) => {
    if (name === 'success') return !failed
    if (name === 'failure') return failed
    if (name === 'always') return true
    if (name === 'cancelled') return false
    throw new Error(`function ${name}() not modelled`)
  }
  const resolve = (text: string) =>
    text.replace(/\$\{\{([\s\S]*?)\}\}/g, (_, expression: string) => {
      const value = evaluate(expression, lookup, status)
      return value === null || value === undefined ? '' : String(value)
    })
  const jobEnv = Object.fromEntries(
    Object.entries(options.jobEnv ?? {}).map(([key, value]) => [key, resolve(String(value))]),
  )
  const results: StepResult[] = []
  for (const step of steps) {
    const name = step.name ?? step.uses ?? step.run ?? '?'
    const condition = step.if === undefined ? 'success()' : unwrap(step.if)
    const named = /\b(success|failure|always|cancelled)\(\)/.test(condition)
    const runs = truthy(evaluate(named ? condition : `success() && (${condition})`, lookup, status))
    let outcome: StepResult['outcome'] = 'skipped'
    let output = ''
    const outputs: Record<string, string> = {}
    if (runs && step.uses) {
      outcome = 'success'
    } else if (runs && step.run) {
      const outputFile = path.join(work, `output-${results.length}`)
      writeFileSync(outputFile, '')
      const stepEnv = Object.fromEntries(
        Object.entries(step.env ?? {}).map(([key, value]) => [key, resolve(String(value))]),
      )
      const result = await runBash(
        step.run,
        {
          ...options.env,
          ...jobEnv,
          ...stepEnv,
          GITHUB_OUTPUT: outputFile,
          GITHUB_STEP_SUMMARY: summaryFile,
          RUNNER_TEMP: work,
        },
        options.cwd,
      )
      outcome = result.code === 0 ? 'success' : 'failure'
      output = result.output
      for (const line of readFileSync(outputFile, 'utf8').split('\n')) {
        const match = /^([\w-]+)=(.*)$/.exec(line)
        if (match) outputs[match[1]!] = match[2]!
      }
    }
    if (outcome === 'failure') failed = true
    if (step.id) context[step.id] = { outcome, outputs }
    results.push({ name, outcome, output })
  }
  return {
    steps: results,
    status: failed ? 'failure' : 'success',
    summary: readFileSync(summaryFile, 'utf8'),
    context,
  }
}
