// @ts-check
/* global document, window, sessionStorage */
// What the page knows, shared by its modules: the elements, the session's state, its timers and
// the screen reader's live region.

import { byId } from './dom.js'

/**
 * @typedef {{ day: string, start: number, end: number, room: string }} Meeting
 * @typedef {{ id: string, title: string, professor: string, credits: number, capacity: number,
 *   enrolled: number, seatsLeft: number, meetings: Meeting[] }} Course
 * @typedef {{ requestId: string, courseId: string, status: string, position?: number,
 *   reason?: string, estimatedWaitSeconds?: number, updatedAt: number, firstPosition?: number
 *   }} RequestView
 * @typedef {{ kind: 'sending' | 'retrying' | 'blocked', until?: number, waitlist?: boolean,
 *   attempts: number, viaCart?: boolean }} Pending
 * @typedef {{ courseId: string, addedAt?: string }} CartItem
 * @typedef {{ courseId: string, title: string, professor?: string, credits: number,
 *   meetings?: Meeting[] }} TimetableCourse
 * @typedef {'error' | 'info' | 'warn'} Tone
 * @typedef {{ tone: Tone, text: () => string }} Note
 */

/** Told to the screen reader as the opening approaches (seconds to go). */
export const MILESTONES = [3600, 600, 300, 60, 30, 10]
export const LIVE = new Set(['checking', 'queued', 'waitlisted'])
export const FINAL = new Set(['enrolled', 'rejected', 'unknown'])
export const STUDENT_KEY = 'sugang.student'
/** @param {string} studentId */
export const requestsKey = (studentId) => `sugang.requests.${studentId}`
export const STUDENT_ID = /^[A-Za-z0-9_-]{1,16}$/
export const REQUEST_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
/** Automatic retries of one request after 503 or no answer, before the student decides. */
export const AUTO_RETRY_LIMIT = 5
const DEFAULT_RETRY_SECONDS = 2

export const $ = {
  main: byId('main'),
  noticeBanner: byId('notice-banner'),
  noticeText: byId('notice-text'),
  noticeDismiss: byId('notice-dismiss'),
  pauseNotice: byId('pause-notice'),
  skipRush: byId('skip-rush'),
  boot: byId('boot'),
  bootText: byId('boot-text'),
  account: byId('account'),
  studentInfo: byId('student-info'),
  logout: byId('logout-button'),
  langSwitch: byId('lang-switch'),
  loginView: byId('login-view'),
  loginNotice: byId('login-notice'),
  loginForm: byId('login-form'),
  loginStudentId: byId(/** @type {const} */ ('login-student-id')),
  loginPassword: byId('login-password'),
  loginError: byId('login-error'),
  loginSubmit: byId('login-submit'),
  appView: byId('app-view'),
  registration: byId('registration-status'),
  registrationLabel: byId('registration-label'),
  countdown: byId('countdown'),
  serverClock: byId('server-clock'),
  registrationDetail: byId('registration-detail'),
  barRequest: byId('bar-request-button'),
  barWait: byId('bar-wait'),
  waitPanel: byId('wait-panel'),
  waitList: byId('wait-list'),
  coursesUpdated: byId('courses-updated'),
  search: byId('course-search'),
  filterDay: byId('filter-day'),
  filterSeats: byId('filter-seats'),
  courseCount: byId('course-count'),
  coursesError: byId('courses-error'),
  courseList: byId('course-list'),
  cartTitle: byId('cart-title'),
  cartSummary: byId('cart-summary'),
  cartList: byId('cart-list'),
  cartConflicts: byId('cart-conflicts'),
  cartRequest: byId('cart-request-button'),
  cartMessage: byId('cart-message'),
  connection: byId('connection-status'),
  requestsEmpty: byId('requests-empty'),
  requestList: byId('request-list'),
  requestsTitle: byId('requests-title'),
  timetableTitle: byId('timetable-title'),
  timetableCredits: byId('timetable-credits'),
  timetableError: byId('timetable-error'),
  timetableGrid: byId('timetable-grid'),
  enrolledEmpty: byId('enrolled-empty'),
  enrolledList: byId('enrolled-list'),
  announcer: byId('announcer'),
  confirmDialog: /** @type {HTMLDialogElement} */ (byId('confirm-dialog')),
  confirmText: byId('confirm-text'),
  confirmTitle: byId('confirm-title'),
  confirmYes: byId('confirm-yes'),
}
export const inputs = {
  studentId: /** @type {HTMLInputElement} */ ($.loginStudentId),
  password: /** @type {HTMLInputElement} */ ($.loginPassword),
  search: /** @type {HTMLInputElement} */ ($.search),
  filterDay: /** @type {HTMLSelectElement} */ ($.filterDay),
  filterSeats: /** @type {HTMLInputElement} */ ($.filterSeats),
}

export function newState() {
  return {
    /** @type {{ studentId: string, name: string, year: number | null, maxCredits: number | null } | null} */
    me: null,
    /** times in ms by the server's clock */
    registration: {
      known: false,
      open: false,
      /** @type {number | null} */
      opensAt: null,
      /** @type {number | null} */
      closesAt: null,
      opensAhead: false,
      /** When the server read the window (its serverTime), by the server's clock. */
      /** @type {number | null} */
      readAt: null,
    },
    /** @type {'unknown' | 'before' | 'open' | 'closed'} */
    phase: 'unknown',
    announcedOpen: false,
    resyncedNearOpen: false,
    /** @type {number | undefined} */
    milestone: undefined,
    /** @type {Map<string, Course>} */
    courses: new Map(),
    /** @type {string[]} */
    courseIds: [],
    coursesAt: 0,
    /** The course list's entity tag: asked for with If-None-Match, a 304 keeps the list. */
    /** @type {string | null} */
    coursesEtag: null,
    /**
     * courseId → when a decision about it arrived: its seats are shown as being checked until a
     * course list loaded late enough to include that decision arrives.
     * @type {Map<string, number>}
     */
    seatsStale: new Map(),
    /** @type {CartItem[]} */
    cart: [],
    /** @type {Set<string>} */
    cartBusy: new Set(),
    /** courseId → what the last cart request's answer said when it refused the course at once */
    /** @type {Map<string, { code: string }>} */
    cartResults: new Map(),
    /** The courses of the last press of "request all", until each has its result. */
    /** @type {Set<string>} */
    cartBatch: new Set(),
    /** @type {{ kind: 'sending' | 'retrying' | 'blocked', until?: number, attempts: number, armed?: boolean } | null} */
    cartPending: null,
    /** Pressed in the last seconds before the opening: sent the moment it opens. */
    cartArmed: false,
    /** @type {(() => string) | null} */
    cartMessage: null,
    /** @type {Map<string, RequestView>} */
    requests: new Map(),
    /** courseId → the course's latest requestId @type {Map<string, string>} */
    byCourse: new Map(),
    /** @type {Map<string, Pending>} */
    pending: new Map(),
    /** @type {Set<string>} */
    waitlistOffer: new Set(),
    /** courseId → what is said under the course @type {Map<string, Note>} */
    notes: new Map(),
    /** @type {Set<string>} */
    enrolled: new Set(),
    /** @type {Set<string>} */
    cancelling: new Set(),
    /** requestIds whose waitlist place is being given up @type {Set<string>} */
    leaving: new Set(),
    /** @type {{ totalCredits: number, maxCredits: number | null, courses: TimetableCourse[] } | null} */
    timetable: null,
  }
}

/** The page's mutable parts: the state of this session, and the session counter. */
export const page = {
  state: newState(),
  /** Bumped on every log in and log out: answers to an older session's calls are dropped. */
  session: 0,
}

/** @type {Set<ReturnType<typeof setTimeout>>} */
const timers = new Set()

/**
 * setTimeout that does nothing if the session changed meanwhile; cleared on log out.
 * @param {() => void} fn @param {number} ms
 */
export function later(fn, ms) {
  const mine = page.session
  const timer = window.setTimeout(() => {
    timers.delete(timer)
    if (mine === page.session) fn()
  }, ms)
  timers.add(timer)
  return timer
}

/** @param {ReturnType<typeof setTimeout> | null | undefined} timer */
export function cancel(timer) {
  if (timer === null || timer === undefined) return
  window.clearTimeout(timer)
  timers.delete(timer)
}

export function clearTimers() {
  for (const timer of timers) window.clearTimeout(timer)
  timers.clear()
}

/** @param {HTMLElement} button @param {boolean} disabled */
export function setDisabled(button, disabled) {
  const value = disabled ? 'true' : 'false'
  if (button.getAttribute('aria-disabled') !== value) button.setAttribute('aria-disabled', value)
}

/** @param {HTMLElement} button */
export const isDisabled = (button) => button.getAttribute('aria-disabled') === 'true'

/** The focused element was removed from the page (focus fell back to the body). */
export const focusLost = () => !document.activeElement || document.activeElement === document.body

/**
 * Worth asking again by itself: 503 (with Retry-After), a gateway that gave up (502, 504), or no
 * answer at all. Asking again is safe: the server answers a live request with that request.
 * @param {{ status: number }} error
 */
export const retryable = (error) => [0, 502, 503, 504].includes(error.status)

/**
 * How long before asking again by itself: what Retry-After says, else 2 s doubling with each
 * attempt, up to 30 s.
 * @param {{ retryAfter: number | null }} error @param {number} attempts
 */
export const retrySeconds = (error, attempts) =>
  Math.max(1, error.retryAfter ?? Math.min(DEFAULT_RETRY_SECONDS * 2 ** attempts, 30))

/** @param {number} ms */
export const secondsUntil = (ms) => Math.max(1, Math.ceil((ms - Date.now()) / 1000))

/** @param {unknown} value */
export const finite = (value) =>
  typeof value === 'number' && Number.isFinite(value) ? value : undefined

/** @type {string[]} */
let announceQueue = []
/** @type {ReturnType<typeof setTimeout> | null} */
let announceTimer = null

/** Says something to screen readers (one polite live region for the whole page). */
export function announce(/** @type {string} */ text) {
  if (!text) return
  announceQueue.push(text)
  if (announceTimer) return
  announceTimer = window.setTimeout(() => {
    announceTimer = null
    const message = announceQueue.join(' ')
    announceQueue = []
    $.announcer.textContent = ''
    // A new text node after clearing: read even when it repeats the previous message.
    window.setTimeout(() => {
      $.announcer.textContent = message
    }, 30)
  }, 120)
}

/** @param {string} courseId */
export function titleOf(courseId) {
  const { state } = page
  return (
    state.courses.get(courseId)?.title ??
    state.timetable?.courses.find((c) => c.courseId === courseId)?.title ??
    courseId
  )
}

/** @param {string} key */
export function readJson(key) {
  try {
    const raw = sessionStorage.getItem(key)
    return raw ? JSON.parse(raw) : null
  } catch {
    return null
  }
}

/** @param {string} key @param {unknown} value */
export function writeJson(key, value) {
  try {
    if (value === null) sessionStorage.removeItem(key)
    else sessionStorage.setItem(key, JSON.stringify(value))
  } catch {
    // Storage may be off (private mode): the page works, a reload just forgets the requests.
  }
}

/** The request the page follows for a course, if any. @param {string} courseId */
export function currentRequest(courseId) {
  const { state } = page
  const requestId = state.byCourse.get(courseId)
  return requestId ? state.requests.get(requestId) : undefined
}
