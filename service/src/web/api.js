// @ts-check
// The API client: JSON in and out, the session cookie sent by the browser, and every failure
// turned into an ApiError with the contract's code (never shown raw: see text.js).

const TIMEOUT_MS = 15_000

export class ApiError extends Error {
  /**
   * @param {number} status HTTP status, 0 when no answer arrived
   * @param {string} code the contract's error code (or NETWORK / TIMEOUT)
   * @param {number | null} retryAfter seconds from Retry-After, when the server sent it
   * @param {Record<string, unknown> | null} body the error object of the answer
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

/** @type {((error: ApiError) => void) | null} */
let onUnauthenticated = null

/**
 * Called when an API call answers 401: the session has ended.
 * @param {(error: ApiError) => void} handler
 */
export function setUnauthenticatedHandler(handler) {
  onUnauthenticated = handler
}

/** Retry-After in seconds: delta-seconds or an HTTP date. @param {string | null} value */
export function parseRetryAfter(value) {
  if (!value) return null
  const seconds = Number(value)
  if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds)
  const date = Date.parse(value)
  if (!Number.isNaN(date)) return Math.max(0, Math.ceil((date - Date.now()) / 1000))
  return null
}

/**
 * Calls the API. Resolves `{ status, data, etag, sentAt, receivedAt }` on 2xx (data is null for
 * 204), and on 304 when `etag` was given (data null: what the tag named is still current);
 * rejects with an ApiError otherwise.
 * @param {string} method
 * @param {string} path
 * @param {{ body?: unknown, quiet401?: boolean, etag?: string | null }} [options] quiet401: a
 *   401 is expected (the page asks whether a session exists) and does not end the session;
 *   etag: sent as If-None-Match (the page keeps what it names)
 * @returns {Promise<{ status: number, data: any, etag: string | null, sentAt: number,
 *   receivedAt: number }>}
 */
export async function api(method, path, options = {}) {
  /** @type {Record<string, string>} */
  const headers = { accept: 'application/json' }
  // The page asks for the current answer itself; the browser's cache is never consulted.
  /** @type {RequestInit} */
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' }
  if (options.etag) headers['if-none-match'] = options.etag
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
  const etag = response.headers.get('etag')
  if (response.status === 304 && options.etag) {
    clearTimeout(timer)
    // Read to its (empty) end: an answer not read is a request the browser keeps open.
    await response.arrayBuffer().catch(() => null)
    return { status: 304, data: null, etag: etag ?? options.etag, sentAt, receivedAt }
  }
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
  if (response.ok) return { status: response.status, data, etag, sentAt, receivedAt }

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
export const segment = (/** @type {unknown} */ value) => encodeURIComponent(String(value))
