import type { Body } from './synth.js'

/** IAM's glob: `*` any run of characters, `?` any one character. */
function globMatches(pattern: string, value: string, ignoreCase: boolean): boolean {
  const source = pattern
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[\\^$.|+()[\]{}]/g, '\\$&')))
    .join('')
  return new RegExp(`^${source}$`, ignoreCase ? 'i' : '').test(value)
}

/**
 * The Allow statements of a policy that grant `action` (on `resource`, when given), with IAM's
 * wildcards and case-insensitive actions. Conditions are not evaluated: callers assert them
 * where they matter.
 */
export function grantsOf(statements: Body[], action: string, resource?: string): Body[] {
  return statements.filter(
    (s) =>
      s.effect === 'Allow' &&
      (s.actions as string[]).some((a) => globMatches(a, action, true)) &&
      (resource === undefined ||
        (s.resources as string[]).some((r) => globMatches(r, resource, false))),
  )
}
