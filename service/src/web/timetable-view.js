// @ts-check
/* global window */
// The student's timetable and credits, dropping a course, and the confirmation dialog that asks
// before anything that cannot be undone.

import { api, segment } from './api.js'
import { h, setAttr, setText, syncChildren } from './dom.js'
import { $, announce, finite, focusLost, later, page, setDisabled, titleOf } from './state.js'
import { errorText, formatMeetings, m } from './text.js'
import { buildTimetable } from './timetable.js'
import { refreshCourses, updateAllCourses, updateCourse } from './courses.js'
import { renderCart, renderCartButtons } from './cart.js'
import { renderRequests, saveRequests, watcher } from './requests.js'

/** @type {ReturnType<typeof setTimeout> | null} */
let timetableTimer = null
/** @type {Map<string, HTMLElement>} */
const enrolledRows = new Map()
/**
 * @typedef {{ title: HTMLElement, meta: HTMLElement, cancel: HTMLElement }} EnrolledParts
 * @type {WeakMap<HTMLElement, EnrolledParts>}
 */
const parts = new WeakMap()

export function resetTimetable() {
  timetableTimer = null
  for (const row of enrolledRows.values()) row.remove()
  enrolledRows.clear()
  $.timetableGrid.replaceChildren()
}

export function scheduleTimetable() {
  if (timetableTimer !== null) return
  timetableTimer = later(() => {
    timetableTimer = null
    void refreshTimetable()
  }, 300)
}

export async function refreshTimetable() {
  const { state } = page
  const mine = page.session
  let table
  try {
    table = (await api('GET', '/api/v1/me/timetable')).data
  } catch (error) {
    if (mine !== page.session || error.status === 401) return
    setText($.timetableError, m().timetable.loadFailed(errorText(error)))
    later(scheduleTimetable, Math.max(5, error.retryAfter ?? 10) * 1000)
    return
  }
  if (mine !== page.session) return
  const courses = (Array.isArray(table?.courses) ? table.courses : []).filter(
    (/** @type {any} */ c) => typeof c?.courseId === 'string',
  )
  state.timetable = {
    totalCredits: finite(table?.totalCredits) ?? 0,
    maxCredits: finite(table?.maxCredits) ?? state.me?.maxCredits ?? null,
    courses,
  }
  state.enrolled = new Set(courses.map((/** @type {any} */ c) => String(c.courseId)))
  setText($.timetableError, '')
  renderTimetable()
  updateAllCourses()
  renderCart()
  renderCartButtons()
}

export function renderTimetable() {
  const table = page.state.timetable
  if (!table) return
  const { totalCredits, maxCredits } = table
  setText($.timetableCredits, m().timetable.credits(totalCredits, maxCredits))
  $.timetableGrid.replaceChildren(buildTimetable(table.courses))
  const ids = table.courses.map((c) => c.courseId)
  syncChildren($.enrolledList, ids, enrolledRows, createEnrolledRow)
  for (const course of table.courses) updateEnrolledRow(course)
  $.enrolledEmpty.hidden = ids.length > 0
}

/** @param {string} id */
function createEnrolledRow(id) {
  /** @type {EnrolledParts} */
  const p = {
    title: h('span', { class: 'enrolled-title' }),
    meta: h('span', { class: 'enrolled-meta' }),
    cancel: h('button', {
      type: 'button',
      class: 'button danger small',
      dataset: { testid: 'cancel-button', courseId: id },
      onclick: () => void cancelEnrollment(id, p.cancel),
    }),
  }
  const row = h(
    'li',
    { class: 'enrolled', dataset: { testid: 'enrolled-course', courseId: id } },
    h('div', { class: 'enrolled-text' }, p.title, p.meta),
    p.cancel,
  )
  parts.set(row, p)
  return row
}

/** @param {import('./state.js').TimetableCourse} course */
function updateEnrolledRow(course) {
  const row = enrolledRows.get(course.courseId)
  if (!row) return
  const p = /** @type {EnrolledParts} */ (parts.get(row))
  const t = m().timetable
  setText(p.title, course.title)
  setText(
    p.meta,
    t.meta(
      course.courseId,
      course.professor ?? '',
      course.credits,
      formatMeetings(course.meetings),
    ),
  )
  const busy = page.state.cancelling.has(course.courseId)
  const label = busy ? t.cancelling : t.cancel
  setText(p.cancel, label)
  setAttr(p.cancel, 'aria-label', t.cancelName(course.title, label))
  setDisabled(p.cancel, busy)
}

/**
 * Asks first: a cancelled seat goes to the waitlist at once, and a waitlist place given up is
 * gone; neither can be taken back.
 * @param {string} text @param {{ title?: string, yes?: string }} [labels]
 * @returns {Promise<boolean>}
 */
export function confirmAction(text, labels = {}) {
  const dialog = $.confirmDialog
  if (typeof dialog.showModal !== 'function') return Promise.resolve(window.confirm(text))
  setText($.confirmTitle, labels.title ?? m().dialog.cancelTitle)
  setText($.confirmYes, labels.yes ?? m().dialog.cancelYes)
  setText($.confirmText, text)
  dialog.returnValue = ''
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'confirm'), {
      once: true,
    })
    dialog.showModal()
  })
}

/** @param {string} id @param {HTMLElement} button */
async function cancelEnrollment(id, button) {
  const { state } = page
  if (state.cancelling.has(id)) return
  const title = titleOf(id)
  const confirmed = await confirmAction(m().dialog.cancelText(title, id))
  if (!confirmed) {
    if (button.isConnected) button.focus()
    return
  }
  const mine = page.session
  state.cancelling.add(id)
  const course = state.timetable?.courses.find((c) => c.courseId === id)
  if (course) updateEnrolledRow(course)
  try {
    await api('DELETE', `/api/v1/me/enrollments/${segment(id)}`)
    if (mine !== page.session) return
    state.enrolled.delete(id)
    const requestId = state.byCourse.get(id)
    if (requestId) {
      state.requests.delete(requestId)
      state.byCourse.delete(id)
      watcher.unwatch(requestId)
      saveRequests()
    }
    state.notes.delete(id)
    state.cartResults.delete(id)
    // The request said "enrolled": gone from the list at once, before the timetable is read.
    renderRequests()
    updateCourse(id)
    announce(m().dialog.cancelled(title))
  } catch (error) {
    if (mine !== page.session || error.status === 401) return
    const text = m().dialog.cancelFailed(errorText(error))
    setText($.timetableError, text)
    announce(text)
  } finally {
    if (mine === page.session) state.cancelling.delete(id)
  }
  if (mine !== page.session) return
  await refreshTimetable()
  renderRequests()
  updateCourse(id)
  void refreshCourses()
  if (!button.isConnected && focusLost()) $.timetableTitle.focus()
  else if (course) updateEnrolledRow(course)
}
