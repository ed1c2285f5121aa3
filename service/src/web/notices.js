// @ts-check
/* global document, localStorage */
// What the operators tell every student (GET /api/v1/notices; the event stream's `notice`): the
// announcement, shown as a banner in the page's language until the student closes it (closed
// per announcement: a new one shows again); admission paused, for every course or some, with the
// reason; and the registration window's version, whose change makes the page ask for its window
// again (app.js).

import { api } from './api.js'
import { setData, setText } from './dom.js'
import { $, announce } from './state.js'
import { lang, m } from './text.js'

/** The id of the announcement the student closed (this browser, every tab). */
const DISMISSED_KEY = 'sugang.notice.closed'

/**
 * @typedef {{ id: string, ko: string, en: string, since: string }} Announcement
 * @typedef {{ courseId: string | null, reason: string, since: string }} Pause
 * @typedef {{ announcement: Announcement | null, pauses: Pause[], windowVersion: string }} Notice
 * @typedef {{ pauses: () => void,
 *   window: (version: string, previous: string | undefined) => void }} NoticeListeners
 */

/** The last notice heard; null before the first. @type {Notice | null} */
let current = null
/** @type {string | null} */
let dismissed = readDismissed()
/** @type {NoticeListeners} */
const listeners = { pauses: () => undefined, window: () => undefined }

/** What the page does when the pauses change, or the window's version (app.js). */
export function onNotices(/** @type {Partial<NoticeListeners>} */ handlers) {
  Object.assign(listeners, handlers)
}

const text = (/** @type {unknown} */ value) => (typeof value === 'string' ? value : '')

/** @param {any} value @returns {Notice | null} */
function parse(value) {
  if (!value || typeof value !== 'object' || !Array.isArray(value.pauses)) return null
  const a = value.announcement
  return {
    announcement:
      a && typeof a === 'object' && typeof a.id === 'string'
        ? { id: a.id, ko: text(a.ko), en: text(a.en), since: text(a.since) }
        : null,
    pauses: value.pauses
      .filter((/** @type {any} */ p) => p && typeof p === 'object')
      .map((/** @type {any} */ p) => ({
        courseId: typeof p.courseId === 'string' ? p.courseId : null,
        reason: text(p.reason),
        since: text(p.since),
      })),
    windowVersion: text(value.windowVersion),
  }
}

/** Takes what the server said (the stream, a poll, the login page's look). @param {unknown} incoming */
export function takeNotice(incoming) {
  const notice = parse(incoming)
  if (!notice) return
  const before = current
  current = notice
  const a = notice.announcement
  if (a && a.id !== before?.announcement?.id && a.id !== dismissed) announce(announcementText(a))
  const everywhere = notice.pauses.find((p) => p.courseId === null)
  const wasEverywhere = before?.pauses.find((p) => p.courseId === null)
  if (everywhere && everywhere.since !== wasEverywhere?.since) {
    announce(m().notice.pausedAll(everywhere.reason))
  }
  renderNotices()
  if (JSON.stringify(before?.pauses ?? []) !== JSON.stringify(notice.pauses)) listeners.pauses()
  if (before?.windowVersion !== notice.windowVersion) {
    listeners.window(notice.windowVersion, before?.windowVersion)
  }
}

/** Why admission of this course is paused (its own pause first, then every course's), or null. */
export function pausedFor(/** @type {string} */ courseId) {
  const pauses = current?.pauses ?? []
  return (
    pauses.find((p) => p.courseId === courseId) ?? pauses.find((p) => p.courseId === null) ?? null
  )
}

/** @param {Announcement} a */
const announcementText = (a) => (lang() === 'ko' ? a.ko || a.en : a.en || a.ko)

/** The banner and the line about a pause of every course, in the page's language. */
export function renderNotices() {
  const a = current?.announcement ?? null
  const shown = a !== null && a.id !== dismissed
  $.noticeBanner.hidden = !shown
  // Kept while closed, so a look at the page tells "closed" from "none".
  setData($.noticeBanner, 'announcementId', a?.id ?? '')
  setData($.noticeBanner, 'closed', a !== null && !shown ? 'true' : '')
  setText($.noticeText, shown ? announcementText(a) : '')
  const everywhere = current?.pauses.find((p) => p.courseId === null) ?? null
  $.pauseNotice.hidden = everywhere === null
  setText($.pauseNotice, everywhere ? m().notice.pausedAll(everywhere.reason) : '')
}

/** The student closed the banner: this announcement stays closed, a new one shows. */
export function dismissNotice() {
  const id = current?.announcement?.id
  if (!id) return
  const hadFocus = $.noticeBanner.contains(document.activeElement)
  dismissed = id
  try {
    localStorage.setItem(DISMISSED_KEY, id)
  } catch {
    // Kept for this page only.
  }
  renderNotices()
  if (hadFocus) $.main.focus()
}

function readDismissed() {
  try {
    return localStorage.getItem(DISMISSED_KEY)
  } catch {
    return null
  }
}

/** One look at GET /notices (the login page, which holds no stream). */
export async function loadNotices() {
  try {
    const { data } = await api('GET', '/api/v1/notices', { quiet401: true })
    takeNotice(data)
  } catch {
    // The banner waits for the next look (the stream once logged in).
  }
}
