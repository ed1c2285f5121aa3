/** What a 503 tells the client to wait before asking again (seconds). */
export const RETRY_AFTER_SECONDS = '2'

/**
 * Errors the service maps to HTTP responses. Expected outcomes (course full, not enrolled) are
 * values in the domain, not exceptions; these cover what a handler cannot turn into a value.
 */
export class HttpError extends Error {
  readonly statusCode: number
  readonly code: string
  readonly headers: Readonly<Record<string, string>>

  constructor(
    statusCode: number,
    code: string,
    message: string,
    headers: Record<string, string> = {},
  ) {
    super(message)
    this.name = 'HttpError'
    this.statusCode = statusCode
    this.code = code
    this.headers = headers
  }
}

/** A database or the queue did not answer: the client should retry later (503). */
export class DependencyUnavailableError extends Error {
  readonly dependency: 'mysql' | 'redis'

  constructor(dependency: 'mysql' | 'redis', cause: unknown) {
    super(`${dependency} is unavailable`, { cause })
    this.name = 'DependencyUnavailableError'
    this.dependency = dependency
  }
}

/** The contract's error body. Expected outcomes are sent with it directly, never thrown. */
export function errorBody(
  code: string,
  message: string,
): { error: { code: string; message: string } } {
  return { error: { code, message } }
}

/** 403 REGISTRATION_CLOSED, with the student's own opening time when it is still ahead. */
export function closedBody(opensAt: Date | null): {
  error: { code: string; message: string; opensAt?: string }
} {
  return opensAt
    ? {
        error: {
          code: 'REGISTRATION_CLOSED',
          message: `Registration opens for you at ${opensAt.toISOString()}.`,
          opensAt: opensAt.toISOString(),
        },
      }
    : errorBody('REGISTRATION_CLOSED', 'Registration is not open now.')
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ConfigError'
  }
}
