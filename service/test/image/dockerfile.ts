// The repository's Dockerfile, parsed with dockerfile-ast into its stages, for the tests that
// check its rules and replay its build.
import { readFileSync } from 'node:fs'
import { join, posix } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  DockerfileParser,
  type Dockerfile,
  type From,
  type Instruction,
  type JSONInstruction,
  type ModifiableInstruction,
} from 'dockerfile-ast'

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url))
export const DOCKERFILE = join(REPO_ROOT, 'Dockerfile')

export interface Stage {
  /** The name after AS, or null. */
  readonly name: string | null
  readonly from: From
  /** The stage's instructions after its FROM, in order. */
  readonly instructions: readonly Instruction[]
}

export interface ParsedDockerfile {
  readonly ast: Dockerfile
  /** The ARGs before the first FROM, with their defaults (what FROM lines may use). */
  readonly globalArgs: ReadonlyMap<string, string>
  /** ARG instructions before the first FROM. */
  readonly globalInstructions: readonly Instruction[]
  readonly stages: readonly Stage[]
}

export function readDockerfile(path = DOCKERFILE): string {
  return readFileSync(path, 'utf8')
}

export function parseDockerfile(text: string = readDockerfile()): ParsedDockerfile {
  const ast = DockerfileParser.parse(text)
  const globalInstructions: Instruction[] = []
  const stages: Array<{ name: string | null; from: From; instructions: Instruction[] }> = []
  for (const instruction of ast.getInstructions()) {
    if (instruction.getKeyword() === 'FROM') {
      const from = instruction as From
      stages.push({ name: from.getBuildStage(), from, instructions: [] })
    } else {
      const current = stages.at(-1)
      if (current) current.instructions.push(instruction)
      else globalInstructions.push(instruction)
    }
  }
  const globalArgs = new Map<string, string>()
  for (const arg of ast.getInitialARGs()) {
    const property = arg.getProperty()
    if (property) globalArgs.set(property.getName(), property.getValue() ?? '')
  }
  return { ast, globalArgs, globalInstructions, stages }
}

/** `$NAME` and `${NAME}` replaced from vars (unknown names become empty, as Docker does). */
export function substitute(text: string, vars: ReadonlyMap<string, string>): string {
  return text.replace(
    /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g,
    (_, braced?: string, bare?: string) => vars.get((braced ?? bare) as string) ?? '',
  )
}

/** FROM's image reference with the global ARGs filled in: `node:24.22.3-bookworm-slim`. */
export function imageOf(stage: Stage, globalArgs: ReadonlyMap<string, string>): string {
  return substitute(stage.from.getImage() ?? '', globalArgs)
}

export function ofKeyword<T extends Instruction = Instruction>(
  instructions: readonly Instruction[],
  keyword: string,
): T[] {
  return instructions.filter((i) => i.getKeyword() === keyword) as T[]
}

/** An exec-form (JSON array) instruction's strings, or null when it is in shell form. */
export function execForm(instruction: JSONInstruction): string[] | null {
  if (!instruction.getOpeningBracket() || !instruction.getClosingBracket()) return null
  return instruction.getJSONStrings().map((s) => s.getJSONValue())
}

/** The flags of an instruction (`--from=build`, `--mount=...`) by name. */
export function flagsOf(instruction: ModifiableInstruction): Map<string, string | null> {
  return new Map(instruction.getFlags().map((f) => [f.getName(), f.getValue()]))
}

/**
 * An instruction's arguments after its flags, line continuations joined: for RUN in shell form,
 * the command the shell is given.
 */
export function argumentsText(instruction: Instruction): string {
  return instruction.getArgumentsContent() ?? ''
}

/** `HEALTHCHECK [flags] CMD ["node", "-e", "..."]`: the command (exec form only), or null for NONE. */
export function healthcheckCommand(instruction: Instruction): string[] | null {
  const text = argumentsText(instruction).trim()
  if (text === 'NONE') return null
  const match = /^CMD\s+(\[[\s\S]*\])$/.exec(text)
  if (!match) throw new Error(`HEALTHCHECK is not CMD in exec form: ${text}`)
  return JSON.parse(match[1] as string) as string[]
}

/**
 * The build context's exclusions (.dockerignore): whether a path relative to the context is left
 * out of it. Patterns as Docker reads them: `*` and `?` within one path segment, `**` across
 * segments, a leading `!` re-includes, the last matching pattern wins, and a left-out directory
 * leaves out everything under it.
 */
export function dockerignore(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const include = line.startsWith('!')
      const pattern = posix.normalize((include ? line.slice(1) : line).trim()).replace(/^\/+/, '')
      return { include, pattern: globToRegExp(pattern) }
    })
  const excludedItself = (path: string): boolean => {
    let excluded = false
    for (const rule of rules) if (rule.pattern.test(path)) excluded = !rule.include
    return excluded
  }
  return (path: string) => {
    const segments = posix.normalize(path).replace(/^\/+/, '').split('/')
    return segments.some((_, i) => excludedItself(segments.slice(0, i + 1).join('/')))
  }
}

function globToRegExp(pattern: string): RegExp {
  let source = ''
  for (let i = 0; i < pattern.length; i += 1) {
    const c = pattern[i] as string
    if (c === '*' && pattern[i + 1] === '*') {
      i += 1
      if (pattern[i + 1] === '/') {
        i += 1
        source += '(?:.*/)?'
      } else {
        source += '.*'
      }
    } else if (c === '*') {
      source += '[^/]*'
    } else if (c === '?') {
      source += '[^/]'
    } else {
      source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&')
    }
  }
  return new RegExp(`^${source}$`)
}
