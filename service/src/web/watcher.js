// @ts-check
/* global EventSource */
// Watches the student's live requests and the operators' notices: one Server-Sent Events stream
// held for the whole session (with no request to watch it carries the notices alone), polling
// GET /notices and each request when the browser has no EventSource or the stream keeps failing,
// and a poll for any request the stream has been quiet about for a while, so the screen never
// freezes on an old answer.

import { api, segment } from './api.js'

const POLL_FIRST_MS = 1000
const POLL_MAX_MS = 10_000
const POLL_GROWTH = 1.5
/** Errors in a row (no message or open in between) before the stream is given up for a while. */
const STREAM_MAX_ERRORS = 3
const STREAM_RETRY_FIRST_MS = 30_000
const STREAM_RETRY_MAX_MS = 300_000
/** An open stream has not opened within this: treat it as failing. */
const STREAM_OPEN_TIMEOUT_MS = 8000
/** The most requests one stream may watch (the server's limit); beyond it, polling. */
const STREAM_MAX_IDS = 20
/**
 * The stream sends each change, so silence means no change; still, a request nothing was heard
 * about for this long is polled once, in case a change was lost on the way.
 */
const QUIET_MS = 30_000
const QUIET_CHECK_MS = 5000

/**
 * @typedef {{ requestId: string, courseId?: string, status: string, position?: number,
 *   reason?: string, estimatedWaitSeconds?: number }} RequestView
 * @typedef {{ mode: 'idle' | 'connecting' | 'live' | 'reconnecting' | 'polling' | 'paused'
 *   | 'offline', nextAt?: number }} Connection
 */
export class RequestWatcher {
  /** requestId → when we last heard about it (ms) */
  #ids = new Map()
  /** A session is on: the stream (or the polling) goes on for the notices, requests or not. */
  #active = false
  /** @type {EventSource | null} */
  #source = null
  #sourceKey = ''
  #sourceOpen = false
  #streamErrors = 0
  #streamRetryMs = STREAM_RETRY_FIRST_MS
  #streamBlockedUntil = 0
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #streamRetryTimer = undefined
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #openTimer = undefined
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #pollTimer = undefined
  #pollAt = 0
  /** Retry-After of a 429 or 503: no poll before this. */
  #pausedUntil = 0
  #pollRunning = false
  #pollDelay = POLL_FIRST_MS
  /** @type {ReturnType<typeof setInterval> | undefined} */
  #quietTimer = undefined
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #syncTimer = undefined
  /** @type {Connection} */
  #connection = { mode: 'idle' }
  #onUpdate
  #onGone
  #onConnection
  #onNotice

  /**
   * @param {{ onUpdate: (view: RequestView) => void, onGone: (requestId: string) => void,
   *   onConnection: (connection: Connection) => void, onNotice: (notice: unknown) => void }}
   *   handlers
   */
  constructor({ onUpdate, onGone, onConnection, onNotice }) {
    this.#onUpdate = onUpdate
    this.#onGone = onGone
    this.#onConnection = onConnection
    this.#onNotice = onNotice
  }

  get connection() {
    return this.#connection
  }

  /** How many requests are watched. */
  get watching() {
    return this.#ids.size
  }

  /** The session began: hold the stream for the notices, with or without requests to watch. */
  start() {
    if (this.#active) return
    this.#active = true
    this.#scheduleSync()
  }

  /** @param {string} requestId */
  has(requestId) {
    return this.#ids.has(requestId)
  }

  /** @param {string} requestId */
  watch(requestId) {
    if (this.#ids.has(requestId)) return
    this.#ids.set(requestId, Date.now())
    this.#pollDelay = POLL_FIRST_MS
    this.#scheduleSync()
  }

  /** @param {string} requestId */
  unwatch(requestId) {
    if (!this.#ids.delete(requestId)) return
    this.#scheduleSync()
  }

  /** Something changed (back online, tab visible again): check now rather than later. */
  nudge() {
    if (!this.#holding()) return
    if (this.#streamBlockedUntil > Date.now() && typeof EventSource === 'function') {
      // Give the stream another chance at once.
      this.#streamBlockedUntil = 0
      this.#scheduleSync()
    }
    if (!this.#sourceOpen && !this.#pollRunning) {
      this.#pollDelay = POLL_FIRST_MS
      this.#startPolling(true)
    }
  }

  /** Stops everything (log out). */
  stop() {
    this.#active = false
    this.#ids.clear()
    clearTimeout(this.#syncTimer)
    this.#syncTimer = undefined
    clearTimeout(this.#streamRetryTimer)
    this.#streamRetryTimer = undefined
    this.#streamBlockedUntil = 0
    this.#streamErrors = 0
    this.#streamRetryMs = STREAM_RETRY_FIRST_MS
    this.#pausedUntil = 0
    this.#pollDelay = POLL_FIRST_MS
    this.#closeSource()
    this.#stopPolling()
    this.#stopQuietChecks()
    this.#report('idle')
  }

  #scheduleSync() {
    if (this.#syncTimer) return
    // Several requests often arrive together (a whole cart): one reconnect for all of them.
    this.#syncTimer = setTimeout(() => {
      this.#syncTimer = undefined
      this.#sync()
    }, 50)
  }

  /** Whether there is anything to follow: a session (the notices), or requests. */
  #holding() {
    return this.#active || this.#ids.size > 0
  }

  #sync() {
    if (!this.#holding()) {
      this.#closeSource()
      this.#stopPolling()
      this.#stopQuietChecks()
      this.#report('idle')
      return
    }
    if (this.#ids.size > 0) this.#startQuietChecks()
    else this.#stopQuietChecks()
    const streamUsable =
      typeof EventSource === 'function' &&
      Date.now() >= this.#streamBlockedUntil &&
      this.#ids.size <= STREAM_MAX_IDS
    if (!streamUsable) {
      this.#closeSource()
      this.#startPolling(false)
      return
    }
    const key = [...this.#ids.keys()].sort().join(',')
    if (!this.#source || key !== this.#sourceKey) this.#openSource(key)
  }

  /** @param {string} key the watched ids, sorted and joined; '' for the notices alone */
  #openSource(key) {
    this.#closeSource()
    const url = key
      ? `/api/v1/me/events?requests=${key.split(',').map(segment).join(',')}`
      : '/api/v1/me/events'
    let source
    try {
      source = new EventSource(url)
    } catch {
      this.#streamFailed()
      return
    }
    this.#source = source
    this.#sourceKey = key
    this.#sourceOpen = false
    if (!this.#pollTimer && !this.#pollRunning) this.#report('connecting')
    this.#openTimer = setTimeout(() => {
      if (source === this.#source && !this.#sourceOpen) this.#streamFailed()
    }, STREAM_OPEN_TIMEOUT_MS)

    source.addEventListener('open', () => {
      if (source !== this.#source) return
      clearTimeout(this.#openTimer)
      this.#sourceOpen = true
      this.#streamErrors = 0
      this.#streamRetryMs = STREAM_RETRY_FIRST_MS
      this.#stopPolling()
      this.#report('live')
    })
    source.addEventListener('request', (event) => {
      if (source !== this.#source) return
      let view
      try {
        view = JSON.parse(event.data)
      } catch {
        return
      }
      this.#streamErrors = 0
      this.#deliver(view)
    })
    // What the operators tell every student: at once, and on every change.
    source.addEventListener('notice', (event) => {
      if (source !== this.#source) return
      let notice
      try {
        notice = JSON.parse(event.data)
      } catch {
        return
      }
      this.#onNotice(notice)
    })
    // The server could not start watching (its queue did not answer): poll instead for now.
    source.addEventListener('unavailable', () => {
      if (source === this.#source) this.#streamFailed()
    })
    source.addEventListener('error', () => {
      if (source !== this.#source) return
      this.#sourceOpen = false
      this.#streamErrors += 1
      // CLOSED: the browser gave up by itself (an answer that is not a stream: 401, 404, 5xx).
      if (source.readyState === EventSource.CLOSED || this.#streamErrors >= STREAM_MAX_ERRORS) {
        this.#streamFailed()
        return
      }
      // The browser reconnects by itself; poll meanwhile so nothing stands still.
      this.#report('reconnecting')
      this.#startPolling(true)
    })
  }

  /** The stream keeps failing: poll, and try the stream again later (30 s, doubling to 5 min). */
  #streamFailed() {
    this.#closeSource()
    this.#streamBlockedUntil = Date.now() + this.#streamRetryMs
    clearTimeout(this.#streamRetryTimer)
    this.#streamRetryTimer = setTimeout(() => {
      this.#streamRetryTimer = undefined
      this.#streamErrors = 0
      this.#sync()
    }, this.#streamRetryMs)
    this.#streamRetryMs = Math.min(this.#streamRetryMs * 2, STREAM_RETRY_MAX_MS)
    this.#startPolling(true)
  }

  #closeSource() {
    clearTimeout(this.#openTimer)
    this.#openTimer = undefined
    if (this.#source) this.#source.close()
    this.#source = null
    this.#sourceKey = ''
    this.#sourceOpen = false
  }

  /**
   * Polls soon (now, or after the current delay); never later than a round already planned.
   * @param {boolean} now
   */
  #startPolling(now) {
    if (this.#pollRunning || !this.#holding()) return
    const delay = Math.max(now ? 0 : this.#pollDelay, this.#pausedUntil - Date.now())
    if (this.#pollTimer && this.#pollAt <= Date.now() + delay) return
    this.#schedulePoll(delay, 'polling')
  }

  /** @param {number} delay @param {Connection['mode']} mode */
  #schedulePoll(delay, mode) {
    clearTimeout(this.#pollTimer)
    this.#pollAt = Date.now() + delay
    this.#pollTimer = setTimeout(() => void this.#pollRound(), delay)
    this.#report(mode, this.#pollAt)
  }

  #stopPolling() {
    clearTimeout(this.#pollTimer)
    this.#pollTimer = undefined
  }

  /**
   * GET /notices and one GET per watched request, then wait: 1 s growing to 10 s, or what
   * Retry-After says.
   */
  async #pollRound() {
    this.#pollTimer = undefined
    if (this.#sourceOpen || !this.#holding()) return
    this.#pollRunning = true
    let waitMs = null
    let offline = false
    const notices = await this.#pollNotices()
    if (notices.waitMs !== undefined) waitMs = notices.waitMs
    if (notices.offline) offline = true
    for (const requestId of waitMs === null && !offline ? [...this.#ids.keys()] : []) {
      if (this.#sourceOpen || !this.#ids.has(requestId)) continue
      const outcome = await this.#pollOne(requestId)
      if (outcome.stop) {
        this.#pollRunning = false
        return
      }
      if (outcome.waitMs !== undefined) {
        waitMs = Math.max(waitMs ?? 0, outcome.waitMs)
        break
      }
      if (outcome.offline) {
        offline = true
        break
      }
    }
    this.#pollRunning = false
    if (this.#sourceOpen || !this.#holding()) return
    const delay = waitMs ?? this.#pollDelay
    if (waitMs !== null) this.#pausedUntil = Date.now() + waitMs
    this.#pollDelay = Math.min(this.#pollDelay * POLL_GROWTH, POLL_MAX_MS)
    this.#schedulePoll(delay, waitMs !== null ? 'paused' : offline ? 'offline' : 'polling')
  }

  /** @returns {Promise<{ waitMs?: number, offline?: true }>} */
  async #pollNotices() {
    try {
      const { data } = await api('GET', '/api/v1/notices')
      if (!this.#sourceOpen) this.#onNotice(data)
      return {}
    } catch (error) {
      if ((error.status === 429 || error.status === 503) && error.retryAfter !== null) {
        return { waitMs: Math.max(1000, error.retryAfter * 1000) }
      }
      if (error.status === 0) return { offline: true }
      return {}
    }
  }

  /**
   * @param {string} requestId
   * @returns {Promise<{ stop?: true, waitMs?: number, offline?: true }>}
   */
  async #pollOne(requestId) {
    try {
      const { data } = await api('GET', `/api/v1/enrollment-requests/${segment(requestId)}`)
      this.#deliver(data)
      return {}
    } catch (error) {
      if (error.status === 401) return { stop: true } // the page logs out
      if (error.status === 404) {
        // Decided long ago and forgotten, or not this student's: nothing more to hear.
        this.#ids.delete(requestId)
        this.#onGone(requestId)
        return {}
      }
      if ((error.status === 429 || error.status === 503) && error.retryAfter !== null) {
        return { waitMs: Math.max(1000, error.retryAfter * 1000) }
      }
      if (error.status === 0) return { offline: true }
      return {}
    }
  }

  #startQuietChecks() {
    if (this.#quietTimer) return
    this.#quietTimer = setInterval(() => void this.#checkQuiet(), QUIET_CHECK_MS)
  }

  #stopQuietChecks() {
    clearInterval(this.#quietTimer)
    this.#quietTimer = undefined
  }

  /** The stream is open but silent about a request: ask for it directly, once in a while. */
  async #checkQuiet() {
    if (!this.#sourceOpen || this.#pausedUntil > Date.now()) return
    const now = Date.now()
    for (const [requestId, heard] of this.#ids) {
      if (now - heard < QUIET_MS) continue
      this.#ids.set(requestId, now)
      const outcome = await this.#pollOne(requestId)
      if (outcome.waitMs !== undefined) this.#pausedUntil = Date.now() + outcome.waitMs
      if (outcome.stop || outcome.waitMs !== undefined || outcome.offline) return
    }
  }

  /** @param {RequestView | null | undefined} view */
  #deliver(view) {
    if (!view || typeof view.requestId !== 'string' || !this.#ids.has(view.requestId)) return
    this.#ids.set(view.requestId, Date.now())
    this.#onUpdate(view)
  }

  /** @param {Connection['mode']} mode @param {number} [nextAt] */
  #report(mode, nextAt) {
    this.#connection = nextAt === undefined ? { mode } : { mode, nextAt }
    this.#onConnection(this.#connection)
  }
}
