// @ts-check
/* global navigator */
// The student's live requests: followed over the event stream (polling as the fallback), shown
// in the list of requests and, while any is in a queue, in the waiting panel with the people
// ahead and the server's estimate of the wait, or that an operator paused its course. A decided
// request's row offers its entry in the fairness record (record.js).

import { api, segment } from './api.js'
import { formatTime } from './clock.js'
import { h, setAttr, setData, setText, syncChildren } from './dom.js'
import {
  $,
  FINAL,
  LIVE,
  REQUEST_ID,
  STUDENT_ID,
  announce,
  finite,
  focusLost,
  page,
  readJson,
  requestsKey,
  setDisabled,
  titleOf,
  writeJson,
} from './state.js'
import { errorText, formatWait, m, reasonText, requestStatusText } from './text.js'
import { RequestWatcher } from './watcher.js'
import { pausedFor, takeNotice } from './notices.js'
import { refreshCourses, seatsChanged, updateCourse } from './courses.js'
import { cartDecided } from './cart.js'
import { confirmAction, scheduleTimetable } from './timetable-view.js'
import { createRecord, forgetRecords, resetRecords, updateRecord } from './record.js'

export const watcher = new RequestWatcher({
  onUpdate: (view) => trackRequest(view),
  onGone: (requestId) => requestGone(requestId),
  onConnection: () => renderConnection(),
  onNotice: (notice) => takeNotice(notice),
})

/** @type {Map<string, HTMLElement>} */
export const requestRows = new Map()
/** @type {Map<string, HTMLElement>} */
const waitRows = new Map()
/**
 * @typedef {{ title: HTMLElement, code: HTMLElement, text: HTMLElement, paused: HTMLElement,
 *   time: HTMLTimeElement, leave: HTMLElement }} RequestParts
 * @typedef {{ title: HTMLElement, ahead: HTMLElement, estimate: HTMLElement,
 *   bar: HTMLProgressElement }} WaitParts
 * @type {WeakMap<HTMLElement, any>}
 */
const parts = new WeakMap()

export function resetRequests() {
  for (const map of [requestRows, waitRows]) {
    for (const row of map.values()) row.remove()
    map.clear()
  }
  resetRecords()
}

/**
 * Takes what the server said about a request (enqueue answer, stream, poll).
 * @param {any} incoming
 * @returns {import('./state.js').RequestView | undefined}
 */
export function trackRequest(incoming) {
  const { state } = page
  if (!incoming || typeof incoming.requestId !== 'string') return undefined
  const { requestId } = incoming
  const previous = state.requests.get(requestId)
  const courseId = typeof incoming.courseId === 'string' ? incoming.courseId : previous?.courseId
  if (!courseId) return undefined
  // A decided request stays decided, whatever a late message says.
  if (previous && FINAL.has(previous.status) && !FINAL.has(incoming.status)) return previous
  const status = String(incoming.status)
  const position = finite(incoming.position)
  /** @type {import('./state.js').RequestView} */
  const view = {
    requestId,
    courseId,
    status,
    position,
    reason: typeof incoming.reason === 'string' ? incoming.reason : undefined,
    estimatedWaitSeconds: finite(incoming.estimatedWaitSeconds),
    updatedAt: Date.now(),
    // Where the request joined its queue: the waiting panel's bar runs from there to the head.
    firstPosition:
      status === 'queued'
        ? ((previous?.status === 'queued' ? previous.firstPosition : undefined) ?? position)
        : undefined,
  }
  state.requests.set(requestId, view)
  const older = state.byCourse.get(courseId)
  if (older && older !== requestId) {
    state.requests.delete(older)
    watcher.unwatch(older)
  }
  state.byCourse.set(courseId, requestId)
  if (LIVE.has(view.status)) watcher.watch(requestId)
  else watcher.unwatch(requestId)

  const changed = previous?.status !== view.status
  if (changed && previous && previous.status !== 'checking') {
    announce(
      previous.status === 'waitlisted' && view.status === 'enrolled'
        ? m().requests.promoted(titleOf(courseId))
        : m().notes.about(titleOf(courseId), requestStatusText(view)),
    )
  }
  if (changed && view.status === 'enrolled') {
    state.enrolled.add(courseId)
    scheduleTimetable()
  }
  if (changed && (view.status === 'enrolled' || view.status === 'rejected')) {
    // The course's seats changed with this decision: the row must not say otherwise.
    seatsChanged(courseId)
  }
  if (view.status === 'rejected' && changed && view.reason === 'LEFT_WAITLIST') {
    state.notes.set(courseId, { tone: 'info', text: () => m().notes.leftWaitlist })
  } else if (view.status === 'rejected' && changed) {
    const full = view.reason === 'COURSE_FULL'
    if (full) state.waitlistOffer.add(courseId)
    if (view.reason === 'ALREADY_ENROLLED') scheduleTimetable()
    // Said under the course too (the status list already announced it).
    const reason = view.reason
    state.notes.set(courseId, {
      tone: 'error',
      text: () => m().notes.notRequested(reasonText(reason), full),
    })
  }
  saveRequests()
  renderRequests()
  updateCourse(courseId)
  if (changed) cartDecided()
  return view
}

/** The server no longer knows the request (decided long ago): say so, check the timetable. */
export function requestGone(/** @type {string} */ requestId) {
  const { state } = page
  const view = state.requests.get(requestId)
  if (!view) return
  state.requests.set(requestId, { ...view, status: 'unknown', updatedAt: Date.now() })
  saveRequests()
  renderRequests()
  updateCourse(view.courseId)
  scheduleTimetable()
  cartDecided()
}

export function saveRequests() {
  const { state } = page
  if (!state.me?.studentId) return
  const live = [...state.requests.values()]
    .filter((v) => LIVE.has(v.status))
    .map(({ requestId, courseId }) => ({ requestId, courseId }))
  writeJson(requestsKey(state.me.studentId), live)
}

/** After a reload: the requests this tab was watching, asked for again and watched. */
export async function resumeRequests() {
  const { state } = page
  if (!state.me) return
  const stored = readJson(requestsKey(state.me.studentId))
  if (!Array.isArray(stored)) return
  const valid = stored.filter(
    (s) => REQUEST_ID.test(String(s?.requestId)) && STUDENT_ID.test(String(s?.courseId)),
  )
  for (const { requestId, courseId } of valid) {
    if (!state.requests.has(requestId)) trackRequest({ requestId, courseId, status: 'checking' })
  }
  const mine = page.session
  for (const { requestId } of valid) {
    try {
      const { data } = await api('GET', `/api/v1/enrollment-requests/${segment(requestId)}`)
      if (mine !== page.session) return
      trackRequest(data)
    } catch (error) {
      if (mine !== page.session || error.status === 401) return
      if (error.status === 404) requestGone(requestId)
      else break // the watcher keeps trying
    }
  }
}

/** @param {string} requestId */
function createRequestRow(requestId) {
  /** @type {RequestParts} */
  const p = {
    title: h('span', { class: 'request-title' }),
    code: h('span', { class: 'course-code' }),
    text: h('p', { class: 'request-text', dataset: { testid: 'request-status-text' } }),
    paused: h('p', {
      class: 'request-paused',
      dataset: { testid: 'request-paused' },
      hidden: true,
    }),
    time: h('time', { class: 'request-time', dataset: { testid: 'request-updated' } }),
    leave: h('button', {
      type: 'button',
      class: 'button secondary request-leave',
      hidden: true,
      dataset: { testid: 'leave-waitlist', requestId },
      onclick: () => void leaveWaitlist(requestId, p.leave),
    }),
  }
  const record = createRecord(requestId)
  const row = h(
    'li',
    { class: 'request', dataset: { testid: 'request-status', requestId } },
    h('p', { class: 'request-course' }, p.title, p.code),
    p.text,
    p.paused,
    // The record's button shares the time's line, which always holds its height: a decision
    // adds no line to the row, and nothing below it moves.
    h('div', { class: 'request-foot' }, p.time, record.toggle),
    record.panel,
    p.leave,
  )
  parts.set(row, p)
  return row
}

export function renderRequests() {
  const { state } = page
  const ids = [...state.requests.keys()].reverse()
  syncChildren($.requestList, ids, requestRows, createRequestRow)
  forgetRecords(ids)
  for (const requestId of ids) updateRequestRow(requestId)
  $.requestsEmpty.hidden = ids.length > 0
  renderWaitPanel()
}

/** @param {string} requestId */
function updateRequestRow(requestId) {
  const { state } = page
  const row = requestRows.get(requestId)
  const view = state.requests.get(requestId)
  if (!row || !view) return
  const p = /** @type {RequestParts} */ (parts.get(row))
  setData(row, 'status', view.status)
  setData(row, 'courseId', view.courseId)
  setData(row, 'position', view.position ?? '')
  setData(row, 'reason', view.reason ?? '')
  row.className = `request status-${view.status}`
  const title = titleOf(view.courseId)
  setText(p.title, title)
  setText(p.code, view.courseId)
  setText(p.text, requestStatusText(view))
  // A queued request of a paused course keeps its place and waits: say so, and why.
  const pause = view.status === 'queued' ? pausedFor(view.courseId) : null
  setData(row, 'paused', pause ? 'true' : '')
  p.paused.hidden = pause === null
  setText(p.paused, pause ? m().notice.paused(pause.reason) : '')
  updateRequestTime(p.time, view)
  p.leave.hidden = view.status !== 'waitlisted'
  const leaving = state.leaving.has(requestId)
  const label = leaving ? m().requests.leaving : m().requests.leave
  setText(p.leave, label)
  setAttr(p.leave, 'aria-label', m().requests.leaveName(title, label))
  setDisabled(p.leave, leaving)
  updateRecord(requestId, view, title)
}

/**
 * When the status was last heard. A live request on an open stream is current (the server
 * sends every change), so it says so; otherwise it says how old the answer is.
 * @param {HTMLTimeElement} element @param {import('./state.js').RequestView} view
 */
function updateRequestTime(element, view) {
  const at = new Date(view.updatedAt)
  if (element.dateTime !== at.toISOString()) element.dateTime = at.toISOString()
  const t = m().requests
  let text = t.checkedAt(formatTime(view.updatedAt))
  if (LIVE.has(view.status)) {
    if (watcher.connection.mode === 'live' && view.status !== 'checking') {
      text = t.liveChanged(formatTime(view.updatedAt))
    } else {
      const ago = Math.max(0, Math.round((Date.now() - view.updatedAt) / 1000))
      text = t.lastChecked(formatTime(view.updatedAt), ago)
    }
  }
  setText(element, text)
}

export function renderRequestTimes() {
  for (const [requestId, row] of requestRows) {
    const view = page.state.requests.get(requestId)
    if (view && LIVE.has(view.status)) updateRequestTime(parts.get(row).time, view)
  }
}

export function renderConnection() {
  const connection = watcher.connection
  // The stream is held for the notices too; this line is about the requests.
  let mode = watcher.watching > 0 ? connection.mode : 'idle'
  if (typeof navigator.onLine === 'boolean' && !navigator.onLine && mode !== 'idle')
    mode = 'offline'
  const seconds =
    connection.nextAt !== undefined
      ? Math.max(0, Math.ceil((connection.nextAt - Date.now()) / 1000))
      : null
  const t = m().connection
  setData($.connection, 'mode', mode)
  const text =
    mode === 'polling' || mode === 'paused' || mode === 'offline'
      ? t[mode](seconds)
      : (t[mode] ?? t.idle)
  setText($.connection, text)
}

// ---------------------------------------------------------------------------------------------
// The waiting panel: while any request is in a queue, the people ahead of it, the server's
// estimate (or that there is none yet), and how far it came since it joined.

/** The queued requests, in the cart's order and then the order they were made. */
function queuedViews() {
  const { state } = page
  const order = state.cart.map((item) => item.courseId)
  const rank = (/** @type {string} */ id) => {
    const i = order.indexOf(id)
    return i < 0 ? order.length : i
  }
  return [...state.requests.values()]
    .filter((v) => v.status === 'queued')
    .sort((a, b) => rank(a.courseId) - rank(b.courseId))
}

/** @param {string} requestId */
function createWaitRow(requestId) {
  /** @type {WaitParts} */
  const p = {
    title: h('span', { class: 'wait-title' }),
    ahead: h('span', { class: 'wait-ahead', dataset: { testid: 'wait-ahead' } }),
    estimate: h('span', { class: 'wait-estimate', dataset: { testid: 'wait-estimate' } }),
    bar: h('progress', { class: 'wait-bar', dataset: { testid: 'wait-progress' } }),
  }
  const row = h(
    'li',
    { class: 'wait-item', dataset: { testid: 'wait-item', requestId } },
    h('div', { class: 'wait-head' }, p.title, p.ahead),
    p.bar,
    p.estimate,
  )
  parts.set(row, p)
  return row
}

export function renderWaitPanel() {
  const views = queuedViews()
  $.waitPanel.hidden = views.length === 0
  syncChildren(
    $.waitList,
    views.map((v) => v.requestId),
    waitRows,
    createWaitRow,
  )
  const t = m().wait
  let most = 0
  for (const view of views) {
    const row = waitRows.get(view.requestId)
    if (!row) continue
    const p = /** @type {WaitParts} */ (parts.get(row))
    const ahead = Math.max(0, (view.position ?? 1) - 1)
    most = Math.max(most, ahead)
    const title = titleOf(view.courseId)
    setData(row, 'courseId', view.courseId)
    setData(row, 'ahead', view.position ? ahead : '')
    setData(row, 'estimateSeconds', view.estimatedWaitSeconds ?? '')
    setText(p.title, title)
    setText(p.ahead, view.position ? t.ahead(ahead) : m().status.queuedNoPlace)
    const wait = formatWait(view.estimatedWaitSeconds)
    const pause = pausedFor(view.courseId)
    setData(row, 'paused', pause ? 'true' : '')
    setText(
      p.estimate,
      pause ? m().notice.paused(pause.reason) : wait ? t.estimate(wait) : t.estimating,
    )
    const first = Math.max(1, view.firstPosition ?? view.position ?? 1)
    setAttr(p.bar, 'max', String(first))
    setAttr(p.bar, 'value', String(Math.max(0, first - ahead)))
    setAttr(p.bar, 'aria-label', t.progressName(title))
  }
  setText($.barWait, views.length ? m().registration.barWaiting(views.length, most) : '')
  $.barWait.hidden = views.length === 0
}

/**
 * Gives up a waitlist place, after asking.
 * @param {string} requestId @param {HTMLElement} button
 */
async function leaveWaitlist(requestId, button) {
  const { state } = page
  const view = state.requests.get(requestId)
  if (!view || state.leaving.has(requestId)) return
  const id = view.courseId
  const title = titleOf(id)
  const d = m().dialog
  const confirmed = await confirmAction(d.leaveText(title, id), {
    title: d.leaveTitle,
    yes: d.leaveYes,
  })
  if (!confirmed) {
    if (button.isConnected) button.focus()
    return
  }
  const mine = page.session
  state.leaving.add(requestId)
  updateRequestRow(requestId)
  try {
    await api('DELETE', `/api/v1/me/waitlist/${segment(id)}`)
    if (mine !== page.session) return
    trackRequest({ requestId, courseId: id, status: 'rejected', reason: 'LEFT_WAITLIST' })
    announce(m().dialog.left(title))
  } catch (error) {
    if (mine !== page.session || error.status === 401) return
    state.notes.set(id, { tone: 'error', text: () => m().dialog.leaveFailed(errorText(error)) })
    announce(m().dialog.leaveFailed(errorText(error)))
    // Promoted meanwhile, perhaps: ask where the request stands now.
    if (error.status === 404) {
      try {
        const { data } = await api('GET', `/api/v1/enrollment-requests/${segment(requestId)}`)
        if (mine === page.session) trackRequest(data)
      } catch {
        // The watcher keeps asking.
      }
    }
  } finally {
    if (mine === page.session) state.leaving.delete(requestId)
  }
  if (mine !== page.session) return
  updateRequestRow(requestId)
  updateCourse(id)
  void refreshCourses()
  // The button hides once the place is gone: keep the keyboard user in the panel.
  if ((!button.isConnected || button.hidden) && focusLost()) $.requestsTitle.focus()
}
