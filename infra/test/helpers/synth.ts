import { mkdirSync, mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Testing } from '../../src/cdktf.js'
import type { PlatformConfig } from '../../src/config/types.js'
import { buildPlatform, type Platform } from '../../src/platform.js'

export type StackKey = keyof Platform

/** Terraform JSON of one stack, as `Testing.synth` returns it, plus its parsed form. */
export interface SynthesizedStack {
  readonly json: string
  readonly tf: TerraformJson
}

export interface TerraformJson {
  readonly resource?: Record<string, Record<string, Body>>
  readonly data?: Record<string, Record<string, Body>>
  /** Values drawn per run and never stored (Terraform ≥ 1.10), written as raw overrides. */
  readonly ephemeral?: Record<string, Record<string, Body>>
  readonly output?: Record<string, Body>
  /** Existing resources the stack adopts (Terraform `import` blocks). */
  readonly import?: Body[]
  readonly terraform?: Body
  readonly provider?: Record<string, Body[]>
}

// Synthesized Terraform is untyped JSON; tests read it as such.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Body = Record<string, any>

export type SynthesizedPlatform = Readonly<Record<StackKey, SynthesizedStack>>

/**
 * An infra directory without the e-mail bundle beside it, so notify synthesizes its placeholder
 * (the bundle path is relative to infra/ and points into ../service).
 */
export const NO_BUNDLE_DIR = path.join(
  mkdtempSync(path.join(os.tmpdir(), 'sugang-infra-')),
  'infra',
)
mkdirSync(NO_BUNDLE_DIR)

/**
 * Every stack of one profile, as `cdktf synth` writes them. Like `App.synth`, every stack is
 * prepared first: that is when references between stacks become outputs and remote state reads.
 */
export function synthPlatform(
  config: PlatformConfig,
  baseDir = NO_BUNDLE_DIR,
): SynthesizedPlatform {
  const app = Testing.app()
  const platform = buildPlatform(app, config, { baseDir })
  const stacks = Object.entries(platform) as [StackKey, Platform[StackKey]][]
  for (const [, stack] of stacks) stack.prepareStack()
  const result = {} as Record<StackKey, SynthesizedStack>
  for (const [key, stack] of stacks) {
    const json = Testing.synth(stack)
    result[key] = { json, tf: JSON.parse(json) as TerraformJson }
  }
  return result
}

/** Bodies of every resource of a type, keyed by their logical id. */
export function resources(stack: SynthesizedStack, type: string): Record<string, Body> {
  return stack.tf.resource?.[type] ?? {}
}

export function resourceList(stack: SynthesizedStack, type: string): Body[] {
  return Object.values(resources(stack, type))
}

export function dataSources(stack: SynthesizedStack, type: string): Record<string, Body> {
  return stack.tf.data?.[type] ?? {}
}

/** The one resource of a type; fails when there are none or several. */
export function only(stack: SynthesizedStack, type: string): Body {
  const list = resourceList(stack, type)
  if (list.length !== 1) throw new Error(`expected one ${type}, found ${list.length}`)
  return list[0]!
}

/** Resources of a type across every stack of a platform. */
export function everywhere(platform: SynthesizedPlatform, type: string): Body[] {
  return Object.values(platform).flatMap((stack) => resourceList(stack, type))
}

/**
 * The launch template's user data as an instance receives it. Base64 as synthesized, or, when the
 * script names the released image, a local that Terraform encodes.
 */
export function userData(stack: SynthesizedStack): string {
  const encoded = only(stack, 'aws_launch_template').user_data as string
  const local = /^\$\{base64encode\(local\.([^)]+)\)\}$/.exec(encoded)?.[1]
  if (local) return (stack.tf as Body).locals[local] as string
  return Buffer.from(encoded, 'base64').toString('utf8')
}

/** `${aws_x.logical_id.attr}` → the logical id referenced, for following references in tests. */
export function referencedId(expression: string): string | undefined {
  return /^\$\{[a-z0-9_]+\.([^.]+)\./.exec(expression)?.[1]
}

/**
 * The statements of the policy document a resource's `policy`/`assume_role_policy` points at
 * (`${data.aws_iam_policy_document.<id>.json}`).
 */
export function policyStatements(stack: SynthesizedStack, reference: string): Body[] {
  const id = /^\$\{data\.aws_iam_policy_document\.([^.]+)\.json\}$/.exec(reference)?.[1]
  if (!id) throw new Error(`not a policy document reference: ${reference}`)
  const document = dataSources(stack, 'aws_iam_policy_document')[id]
  if (!document) throw new Error(`no policy document ${id}`)
  return document.statement as Body[]
}
