// The API client: JSON in and out, the session cookie sent by the browser, and every failure
// turned into an ApiError with the contract's code (never shown raw: see text.js).

const TIMEOUT_MS = 15_000

export class ApiError extends Error {
  /**
   * @param {number} status HTTP status, 0 when no answer arrived
   * @param {string} code the contract's error code (or NETWORK / TIMEOUT)
   * @param {number | null} retryAfter seconds from Retry-After, when the server sent it
   * @param {object | null} body the error object of the answer
   */
  constructor(status, code, retryAfter = null, body = null) {
    super(code)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.retryAfter = retryAfter
    this.body = body
  }
}

let onUnauthenticated = null

/** Called when an API call answers 401: the session has ended. */
export function setUnauthenticatedHandler(handler) {
  onUnauthenticated = handler
}

/** Retry-After in seconds: delta-seconds or an HTTP date. */
export function parseRetryAfter(value) {
  if (!value) return null
  const seconds = Number(value)
  if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds)
  const date = Date.parse(value)
  if (!Number.isNaN(date)) return Math.max(0, Math.ceil((date - Date.now()) / 1000))
  return null
}

/**
 * Calls the API. Resolves `{ status, data, sentAt, receivedAt }` on 2xx (data is null for 204);
 * rejects with an ApiError otherwise.
 * @param {string} method
 * @param {string} path
 * @param {{ body?: unknown, quiet401?: boolean }} [options] quiet401: a 401 is expected (the
 *   page asks whether a session exists) and does not end the session
 */
export async function api(method, path, options = {}) {
  const headers = { accept: 'application/json' }
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' }
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json'
    init.body = JSON.stringify(options.body)
  }
  const controller = new AbortController()
  init.signal = controller.signal
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS)
  const sentAt = Date.now()
  let response
  try {
    response = await fetch(path, init)
  } catch {
    clearTimeout(timer)
    throw new ApiError(0, controller.signal.aborted ? 'TIMEOUT' : 'NETWORK')
  }
  const receivedAt = Date.now()
  let data = null
  try {
    if (response.status !== 204 && /\bjson\b/.test(response.headers.get('content-type') ?? '')) {
      data = await response.json()
    } else {
      await response.arrayBuffer()
    }
  } catch {
    data = null
  } finally {
    clearTimeout(timer)
  }
  if (response.ok) return { status: response.status, data, sentAt, receivedAt }

  const error = data && typeof data === 'object' ? data.error : null
  const code = typeof error?.code === 'string' ? error.code : `HTTP_${response.status}`
  const failure = new ApiError(
    response.status,
    code,
    parseRetryAfter(response.headers.get('retry-after')),
    error ?? null,
  )
  if (response.status === 401 && !options.quiet401) onUnauthenticated?.(failure)
  throw failure
}

/** A path segment: course ids and request ids are plain, but never trust that. */
export const segment = (value) => encodeURIComponent(String(value))
