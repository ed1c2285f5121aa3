// @ts-check
/* global document, window */
// The course list: seats (asked again every few seconds with If-None-Match, so an unchanged list
// costs a 304), search and filters, time conflicts, and asking for one course's seat.

import { api, segment } from './api.js'
import { formatDateTime, formatTime } from './clock.js'
import { h, setAttr, setData, setText, syncChildren } from './dom.js'
import {
  $,
  AUTO_RETRY_LIMIT,
  announce,
  cancel,
  currentRequest,
  finite,
  inputs,
  later,
  page,
  retryable,
  retrySeconds,
  secondsUntil,
  setDisabled,
  titleOf,
} from './state.js'
import {
  errorText,
  formatMeetings,
  formatSeconds,
  m,
  normalizeSearch,
  requestStatusText,
} from './text.js'
import { renderCartButtons, toggleCart, updateCartRow } from './cart.js'
import { renderRequests, trackRequest } from './requests.js'
import { refreshMe } from './app.js'
import { scheduleTimetable } from './timetable-view.js'

/** The catalogue is cached for 1 s by the server; every 5–6.5 s is plenty and spreads load. */
const COURSES_EVERY_MS = 5000
const COURSES_JITTER_MS = 1500
const COURSES_MAX_BACKOFF_MS = 60_000
/**
 * How long after a decision the list is asked for: past the server's 1 s catalogue cache, so
 * the answer includes what was decided.
 */
const AFTER_DECISION_MS = 1200
/** The server's catalogue cache: a list loaded this long after a decision includes it. */
const CATALOGUE_TTL_MS = 1000

/** @type {ReturnType<typeof setTimeout> | null} */
let coursesTimer = null
/** @type {Promise<void> | null} */
let coursesInFlight = null
let coursesFailures = 0
/** @type {ReturnType<typeof setTimeout> | null} */
let countAnnounceTimer = null

/** @type {Map<string, HTMLElement>} */
export const rows = new Map()
/**
 * @typedef {{ title: HTMLElement, code: HTMLElement, professor: HTMLElement,
 *   credits: HTMLElement, meetings: HTMLElement, seats: HTMLElement, cartButton: HTMLElement,
 *   requestButton: HTMLElement, note: HTMLElement }} RowParts
 * @type {WeakMap<HTMLElement, RowParts>}
 */
const parts = new WeakMap()

export function resetCourses() {
  coursesTimer = null
  coursesInFlight = null
  coursesFailures = 0
  for (const row of rows.values()) row.remove()
  rows.clear()
}

/** Asks for the list now (or joins the look already on its way). */
export function refreshCourses() {
  if (coursesInFlight) return coursesInFlight
  cancel(coursesTimer)
  coursesTimer = null
  const mine = page.session
  const { state } = page
  coursesInFlight = (async () => {
    let delay = COURSES_EVERY_MS + Math.random() * COURSES_JITTER_MS
    const askedAt = Date.now()
    try {
      const { status, data, etag } = await api('GET', '/api/v1/courses', {
        etag: state.courses.size > 0 ? state.coursesEtag : null,
      })
      if (mine !== page.session) return
      state.coursesEtag = etag
      // A decision this list is too old to include keeps its course's seats "being checked".
      for (const [courseId, decidedAt] of state.seatsStale) {
        if (askedAt - decidedAt >= CATALOGUE_TTL_MS) state.seatsStale.delete(courseId)
      }
      if (status === 304) updateAllCourses()
      else applyCourses(Array.isArray(data?.courses) ? data.courses : [])
      coursesFailures = 0
      state.coursesAt = Date.now()
      setText($.coursesError, '')
      if (state.seatsStale.size > 0) delay = Math.min(delay, AFTER_DECISION_MS)
    } catch (error) {
      if (mine !== page.session || error.status === 401) return
      coursesFailures += 1
      delay =
        error.retryAfter !== null
          ? Math.max(error.retryAfter * 1000, COURSES_EVERY_MS)
          : Math.min(COURSES_EVERY_MS * 2 ** coursesFailures, COURSES_MAX_BACKOFF_MS)
      const what = state.coursesAt ? m().courses.refreshFailed : m().courses.loadFailed
      setText($.coursesError, `${what} ${errorText(error)}`)
    } finally {
      if (mine === page.session) coursesInFlight = null
    }
    if (mine !== page.session) return
    renderCoursesUpdated()
    // Paused while the tab is hidden; the page starts it again when it is shown.
    if (document.visibilityState === 'visible') {
      coursesTimer = later(() => void refreshCourses(), delay)
    }
  })()
  return coursesInFlight
}

/** Stops the periodic look (the tab is hidden). */
export function pauseCourses() {
  cancel(coursesTimer)
  coursesTimer = null
}

/** The tab is visible again: look now if the last look is old, else at its time. */
export function resumeCourses() {
  const age = Date.now() - page.state.coursesAt
  if (age >= COURSES_EVERY_MS) void refreshCourses()
  else if (!coursesInFlight) {
    cancel(coursesTimer)
    coursesTimer = later(() => void refreshCourses(), COURSES_EVERY_MS - age)
  }
}

/**
 * A decision about the course arrived: its seats changed. They show as being checked until a
 * list that includes the decision arrives, asked for shortly (one look for a burst of them).
 * @param {string} courseId
 */
export function seatsChanged(courseId) {
  page.state.seatsStale.set(courseId, Date.now())
  updateCourseRow(courseId)
  if (coursesInFlight) return
  cancel(coursesTimer)
  coursesTimer = later(() => void refreshCourses(), AFTER_DECISION_MS)
}

export function renderCoursesUpdated() {
  const { state } = page
  if (!state.coursesAt) return setText($.coursesUpdated, '')
  const ago = Math.max(0, Math.round((Date.now() - state.coursesAt) / 1000))
  setText($.coursesUpdated, m().courses.updated(formatTime(state.coursesAt), ago))
}

/** @param {unknown[]} list */
function applyCourses(list) {
  const { state } = page
  /** @type {Map<string, import('./state.js').Course>} */
  const next = new Map()
  for (const course of list) {
    const c = /** @type {import('./state.js').Course} */ (course)
    if (c && typeof c.id === 'string') next.set(c.id, c)
  }
  state.courses = next
  state.courseIds = [...next.keys()]
  for (const id of state.waitlistOffer) {
    if ((next.get(id)?.seatsLeft ?? 0) > 0 && !state.seatsStale.has(id)) {
      state.waitlistOffer.delete(id)
    }
  }
  syncChildren($.courseList, state.courseIds, rows, createCourseRow)
  applyFilters(false)
  updateAllCourses()
  renderRequests()
}

/** @param {string} id */
function createCourseRow(id) {
  /** @type {RowParts} */
  const p = {
    title: h('h3', { class: 'course-title' }),
    code: h('span', { class: 'course-code' }),
    professor: h('span', { class: 'course-professor' }),
    credits: h('span', { class: 'course-credits' }),
    meetings: h('p', { class: 'course-meetings', dataset: { testid: 'course-meetings' } }),
    seats: h('p', { class: 'seats', dataset: { testid: 'course-seats' } }),
    cartButton: h('button', {
      type: 'button',
      class: 'button secondary',
      dataset: { testid: 'cart-toggle', courseId: id },
      onclick: () => void toggleCart(id),
    }),
    requestButton: h('button', {
      type: 'button',
      class: 'button primary',
      dataset: { testid: 'request-button', courseId: id },
      onclick: () => void requestSeat(id),
    }),
    note: h('p', { class: 'note', dataset: { testid: 'course-note' } }),
  }
  const row = h(
    'li',
    { class: 'course-row', dataset: { testid: 'course-row', courseId: id } },
    h(
      'div',
      { class: 'course-main' },
      h('div', { class: 'course-heading' }, p.title, p.code),
      h('p', { class: 'course-facts' }, p.professor, p.credits),
      p.meetings,
    ),
    h(
      'div',
      { class: 'course-side' },
      p.seats,
      h('div', { class: 'course-actions' }, p.cartButton, p.requestButton),
    ),
    p.note,
  )
  parts.set(row, p)
  return row
}

export function updateAllCourses() {
  for (const id of page.state.courseIds) updateCourseRow(id)
  for (const item of page.state.cart) updateCartRow(item.courseId)
}

/** A course's row and its cart item, after anything about the course changed. @param {string} id */
export function updateCourse(id) {
  updateCourseRow(id)
  updateCartRow(id)
  renderCartButtons()
}

/** @param {string} id */
export function updateCourseRow(id) {
  const { state } = page
  const row = rows.get(id)
  const course = state.courses.get(id)
  if (!row || !course) return
  const p = /** @type {RowParts} */ (parts.get(row))
  const t = m().courses
  setText(p.title, course.title)
  setText(p.code, course.id)
  setText(p.professor, course.professor)
  setText(p.credits, t.credits(course.credits))
  setText(p.meetings, formatMeetings(course.meetings))
  const left = finite(course.seatsLeft) ?? 0
  const checking = state.seatsStale.has(id)
  setText(
    p.seats,
    checking
      ? t.seatsChecking(course.capacity)
      : left > 0
        ? t.seats(left, course.capacity)
        : t.noSeats(course.capacity),
  )
  p.seats.classList.toggle('full', !checking && left <= 0)
  p.seats.classList.toggle('checking', checking)
  setData(p.seats, 'state', checking ? 'checking' : left > 0 ? 'open' : 'full')
  setData(row, 'seatsLeft', left)

  const inCart = state.cart.some((item) => item.courseId === id)
  const cartBusy = state.cartBusy.has(id)
  setText(p.cartButton, cartBusy ? t.cartBusy : inCart ? t.cartRemove : t.cartAdd)
  setAttr(
    p.cartButton,
    'aria-label',
    cartBusy
      ? t.cartBusyName(course.title)
      : inCart
        ? t.cartRemoveName(course.title)
        : t.cartAddName(course.title),
  )
  setData(p.cartButton, 'inCart', inCart)
  setDisabled(p.cartButton, cartBusy)

  const button = buttonState(id)
  setText(p.requestButton, button.label)
  setAttr(p.requestButton, 'aria-label', m().button.name(course.title, button.label))
  setData(p.requestButton, 'state', button.state)
  setDisabled(p.requestButton, button.disabled)
  p.requestButton.classList.toggle('waitlist', button.state === 'waitlist')

  const note = state.notes.get(id) ?? conflictNote(id)
  setText(p.note, note?.text() ?? '')
  p.note.classList.toggle('error', note?.tone === 'error')
  p.note.classList.toggle('warn', note?.tone === 'warn')
  setData(p.note, 'tone', note?.tone ?? '')
}

/**
 * @param {import('./state.js').Course | undefined} course
 * @param {string} query @param {string} day @param {boolean} seatsOnly
 */
function matches(course, query, day, seatsOnly) {
  if (!course) return false
  if (seatsOnly && !((finite(course.seatsLeft) ?? 0) > 0)) return false
  if (day && !(Array.isArray(course.meetings) && course.meetings.some((x) => x.day === day))) {
    return false
  }
  if (!query) return true
  return [course.title, course.professor, course.id].some((v) => normalizeSearch(v).includes(query))
}

/** @param {boolean} userAction */
export function applyFilters(userAction) {
  const { state } = page
  const query = normalizeSearch(inputs.search.value)
  const day = inputs.filterDay.value
  const seatsOnly = inputs.filterSeats.checked
  let shown = 0
  for (const id of state.courseIds) {
    const row = rows.get(id)
    if (!row) continue
    // A row keeps its place while it holds the focus, so keyboard users are not thrown out.
    const visible =
      matches(state.courses.get(id), query, day, seatsOnly) || row.contains(document.activeElement)
    row.hidden = !visible
    if (visible) shown += 1
  }
  const total = state.courseIds.length
  const t = m().courses
  let text = ''
  if (total > 0) {
    if (shown === 0) text = t.none
    else if (shown === total) text = t.all(total)
    else text = t.some(total, shown)
  }
  setText($.courseCount, text)
  if (userAction) {
    if (countAnnounceTimer !== null) window.clearTimeout(countAnnounceTimer)
    countAnnounceTimer = window.setTimeout(() => announce(text), 600)
  }
}

// ---------------------------------------------------------------------------------------------
// Time conflicts: the rule the admission worker applies (two meetings on one day whose periods
// overlap), known to the page before anything is sent.

/** @param {string} id */
function meetingsOf(id) {
  const { state } = page
  const meetings =
    state.courses.get(id)?.meetings ??
    state.timetable?.courses.find((c) => c.courseId === id)?.meetings
  return Array.isArray(meetings) ? meetings : []
}

/** @param {import('./state.js').Meeting} a @param {import('./state.js').Meeting} b */
const overlap = (a, b) => a.day === b.day && a.start <= b.end && b.start <= a.end

/** @param {string} a @param {string} b */
function clash(a, b) {
  const theirs = meetingsOf(b)
  return meetingsOf(a).some((x) => theirs.some((y) => overlap(x, y)))
}

/**
 * The courses this one meets at the same time as: among the student's enrollments (the server
 * would refuse it), and among the other courses of the cart (only one of them can be had).
 * @param {string} id
 */
export function conflictsOf(id) {
  const { state } = page
  const enrolled = [...state.enrolled].filter((other) => other !== id && clash(id, other))
  const cart = state.cart
    .map((item) => item.courseId)
    .filter((other) => other !== id && !state.enrolled.has(other) && clash(id, other))
  return { enrolled, cart }
}

/**
 * What the page warns about a course before it is asked for: a clash with an enrollment, or
 * with another course of the cart (for a course in the cart).
 * @param {string} id
 * @returns {import('./state.js').Note | undefined}
 */
export function conflictNote(id) {
  const { state } = page
  if (state.enrolled.has(id)) return undefined
  const view = currentRequest(id)
  if (view && view.status !== 'rejected') return undefined
  const { enrolled, cart } = conflictsOf(id)
  if (enrolled.length > 0) {
    return { tone: 'warn', text: () => m().courses.conflictEnrolled(enrolled.map(titleOf)) }
  }
  if (cart.length > 0 && state.cart.some((item) => item.courseId === id)) {
    return { tone: 'warn', text: () => m().courses.conflictCart(cart.map(titleOf)) }
  }
  return undefined
}

// ---------------------------------------------------------------------------------------------
// Asking for a seat

/**
 * What a course's request button says and whether it may be pressed.
 * @param {string} id
 * @returns {{ label: string, disabled: boolean, state: string, waitlist?: boolean }}
 */
export function buttonState(id) {
  const { state } = page
  const b = m().button
  const pending = state.pending.get(id)
  if (pending?.kind === 'sending') return { label: b.sending, disabled: true, state: 'sending' }
  if (pending?.kind === 'retrying') {
    return {
      label: b.autoRetry(secondsUntil(pending.until ?? 0)),
      disabled: true,
      state: 'retrying',
    }
  }
  if (pending?.kind === 'blocked') {
    return { label: b.retryIn(secondsUntil(pending.until ?? 0)), disabled: true, state: 'blocked' }
  }
  const view = currentRequest(id)
  switch (view?.status) {
    case 'checking':
      return { label: b.checking, disabled: true, state: 'checking' }
    case 'queued':
      return {
        label: view.position ? b.queued(view.position - 1) : b.queuedNoPlace,
        disabled: true,
        state: 'queued',
      }
    case 'waitlisted':
      return {
        label: view.position ? b.waitlisted(view.position) : b.waitlistedNoPlace,
        disabled: true,
        state: 'waitlisted',
      }
  }
  if (state.enrolled.has(id) || view?.status === 'enrolled') {
    return { label: b.enrolled, disabled: true, state: 'enrolled' }
  }
  if (state.phase === 'before') return { label: b.request, disabled: true, state: 'not-open' }
  if (state.phase === 'closed') return { label: b.request, disabled: true, state: 'closed' }
  if (conflictsOf(id).enrolled.length > 0) {
    return { label: b.conflict, disabled: true, state: 'conflict' }
  }
  const course = state.courses.get(id)
  if (state.waitlistOffer.has(id) || (course && (finite(course.seatsLeft) ?? 1) <= 0)) {
    return { label: b.waitlist, disabled: false, state: 'waitlist', waitlist: true }
  }
  return { label: b.request, disabled: false, state: 'ready' }
}

/**
 * Says something under the course (and to the screen reader).
 * @param {string} courseId @param {import('./state.js').Tone} tone @param {() => string} text
 */
export function note(courseId, tone, text) {
  page.state.notes.set(courseId, { tone, text })
  announce(m().notes.about(titleOf(courseId), text()))
}

/**
 * POST /courses/:id/enrollment-requests, once per press; retried by itself after a 503.
 * @param {string} id @param {boolean} [auto]
 */
export async function requestSeat(id, auto = false) {
  const { state } = page
  const pending = state.pending.get(id)
  const button = buttonState(id)
  if (auto ? pending?.kind !== 'retrying' : button.disabled) return
  const waitlist = auto ? pending?.waitlist === true : button.waitlist === true
  const attempts = auto ? (pending?.attempts ?? 0) : 0
  const mine = page.session
  state.pending.set(id, { kind: 'sending', waitlist, attempts })
  state.notes.delete(id)
  state.cartResults.delete(id)
  updateCourse(id)
  try {
    const { status, data } = await api(
      'POST',
      `/api/v1/courses/${segment(id)}/enrollment-requests`,
      { body: waitlist ? { waitlist: true } : {} },
    )
    if (mine !== page.session) return
    state.pending.delete(id)
    state.waitlistOffer.delete(id)
    const view = trackRequest({ ...data, courseId: data?.courseId ?? id })
    const n = m().notes
    const what = status === 200 ? n.alreadyAccepted : n.accepted
    announce(n.about(titleOf(id), `${what} ${view ? requestStatusText(view) : ''}`))
  } catch (error) {
    if (mine !== page.session) return
    state.pending.delete(id)
    seatRefused(id, error, waitlist, attempts)
  }
  updateCourse(id)
}

/** @param {{ body: Record<string, unknown> | null }} error */
export function closedText(error) {
  const opensAt = typeof error.body?.opensAt === 'string' ? Date.parse(error.body.opensAt) : NaN
  return Number.isNaN(opensAt)
    ? errorText(/** @type {any} */ (error))
    : m().registration.notYet(formatDateTime(opensAt))
}

/**
 * @param {string} id @param {import('./api.js').ApiError} error @param {boolean} waitlist
 * @param {number} attempts
 */
function seatRefused(id, error, waitlist, attempts) {
  const { state } = page
  if (error.status === 401) return
  switch (error.code) {
    case 'COURSE_FULL':
      state.waitlistOffer.add(id)
      return note(id, 'info', () => m().notes.courseFull)
    case 'ALREADY_ENROLLED':
      state.enrolled.add(id)
      scheduleTimetable()
      return note(id, 'info', () => errorText(error))
    case 'REGISTRATION_CLOSED':
      void refreshMe()
      return note(id, 'error', () => closedText(error))
  }
  if (error.status === 429) {
    const seconds = Math.max(1, error.retryAfter ?? 5)
    state.pending.set(id, { kind: 'blocked', until: Date.now() + seconds * 1000, attempts })
    later(() => {
      if (state.pending.get(id)?.kind !== 'blocked') return
      state.pending.delete(id)
      state.notes.delete(id)
      updateCourse(id)
    }, seconds * 1000)
    return note(id, 'error', () => m().notes.tooFast(formatSeconds(seconds)))
  }
  if (retryable(error)) {
    if (attempts >= AUTO_RETRY_LIMIT) {
      return note(id, 'error', () => m().notes.retryStopped(errorText(error)))
    }
    const seconds = retrySeconds(error, attempts)
    state.pending.set(id, {
      kind: 'retrying',
      until: Date.now() + seconds * 1000,
      waitlist,
      attempts: attempts + 1,
    })
    later(() => void requestSeat(id, true), seconds * 1000)
    const offline = error.status === 0
    return note(id, 'info', () =>
      m().notes.autoRetrying(
        offline ? m().notes.cannotConnect : m().notes.busy,
        formatSeconds(seconds),
      ),
    )
  }
  note(id, 'error', () => errorText(error))
}

/** Labels that count down (automatic retry, Retry-After) need a refresh every second. */
export function renderPendingLabels() {
  const { state } = page
  for (const [id, pending] of state.pending) {
    if (pending.kind === 'retrying' || pending.kind === 'blocked') updateCourse(id)
  }
  if (state.cartPending?.until) renderCartButtons()
}
