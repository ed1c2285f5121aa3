// @ts-check
/* global document, localStorage */
// Everything the page says, in Korean (the portal's language) and English, and the formatting of
// what the API says: error codes, rejection reasons, meeting times, waits.

import { KO } from './text-ko.js'
import { EN } from './text-en.js'

/** @typedef {'ko' | 'en'} Lang */
/** @typedef {typeof KO} Messages */

const LANG_KEY = 'sugang.lang'
/** @type {Record<Lang, Messages>} */
const CATALOGS = { ko: KO, en: EN }

/** @type {Lang} */
let current = 'ko'

/** @param {unknown} value @returns {value is Lang} */
const isLang = (value) => value === 'ko' || value === 'en'

/** The language the student chose last time, or Korean. */
export function initialLang() {
  try {
    const saved = localStorage.getItem(LANG_KEY)
    if (isLang(saved)) return saved
  } catch {
    // Storage may be off: Korean.
  }
  return 'ko'
}

/** @returns {Lang} */
export function lang() {
  return current
}

/** The messages of the current language. */
export function m() {
  return CATALOGS[current]
}

/**
 * Switches the language: the document's lang attribute, the page's fixed texts (elements with
 * data-i18n="key" get the message as text; data-i18n-attr="attribute:key;…" sets attributes).
 * @param {Lang} next
 */
export function setLang(next) {
  current = next
  try {
    localStorage.setItem(LANG_KEY, next)
  } catch {
    // The choice is then kept for this page only.
  }
  document.documentElement.lang = next
  const messages = /** @type {Record<string, unknown>} */ (CATALOGS[next].static)
  for (const element of document.querySelectorAll('[data-i18n]')) {
    const key = /** @type {HTMLElement} */ (element).dataset.i18n ?? ''
    const text = messages[key]
    if (typeof text === 'string' && element.textContent !== text) element.textContent = text
  }
  for (const element of document.querySelectorAll('[data-i18n-attr]')) {
    const spec = /** @type {HTMLElement} */ (element).dataset.i18nAttr ?? ''
    for (const pair of spec.split(';')) {
      const [attribute, key] = pair.split(':')
      const text = key ? messages[key] : undefined
      if (attribute && typeof text === 'string') element.setAttribute(attribute, text)
    }
  }
}

export const DAYS = ['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT']

/** @param {string} day */
export const dayLabel = (day) => /** @type {Record<string, string>} */ (m().days.short)[day] ?? day
/** @param {string} day */
export const dayName = (day) => /** @type {Record<string, string>} */ (m().days.long)[day] ?? day

/** Why a request was rejected (the `reason` of a rejected request). @param {unknown} reason */
export function reasonText(reason) {
  const reasons = /** @type {Record<string, string>} */ (m().reasons)
  return (typeof reason === 'string' && reasons[reason]) || m().reasonOther
}

/** Requests the server could not read: the page sent them wrong, so one sentence for them all. */
const UNREADABLE = new Set([
  'INVALID_JSON',
  'INVALID_BODY',
  'BAD_URL',
  'UNSUPPORTED_MEDIA_TYPE',
  'PAYLOAD_TOO_LARGE',
  'URI_TOO_LONG',
  'HEADERS_TOO_LARGE',
])

/**
 * One sentence per error code of the contract (and two of the page's own): an ApiError, or a
 * `{ code }` from a result list.
 * @param {{ code?: unknown, status?: number } | null | undefined} error
 */
export function errorText(error) {
  const errors = /** @type {Record<string, string>} */ (m().errors)
  const code = UNREADABLE.has(/** @type {string} */ (error?.code)) ? 'BAD_REQUEST' : error?.code
  if (typeof code === 'string' && Object.hasOwn(errors, code)) return errors[code] ?? ''
  const status = error?.status ?? 0
  if (status === 429) return errors.RATE_LIMITED ?? ''
  if (status === 503) return errors.OVERLOADED ?? ''
  if (status >= 500) return errors.INTERNAL_ERROR ?? ''
  if (status === 401) return errors.UNAUTHENTICATED ?? ''
  return m().errorOther
}

/**
 * "월 3-4교시 공학관 301", "Mon periods 3–4, 공학관 301"
 * @param {{ day: string, start: number, end: number, room?: string }} meeting
 */
export function formatMeeting(meeting) {
  return m().meeting(dayLabel(meeting.day), meeting.start, meeting.end, meeting.room ?? '')
}

/** @param {unknown} meetings */
export function formatMeetings(meetings) {
  if (!Array.isArray(meetings)) return m().meetingsUnknown
  if (meetings.length === 0) return m().meetingsNone
  return meetings.map(formatMeeting).join(', ')
}

/** A duration in words: "45초", "3분", "1시간 5분". @param {number} seconds */
export function formatSeconds(seconds) {
  const s = Math.max(0, Math.ceil(seconds))
  if (s < 60) return m().seconds(s)
  const minutes = Math.ceil(s / 60)
  if (minutes < 60) return m().minutes(minutes)
  return m().hours(Math.floor(minutes / 60), minutes % 60)
}

/**
 * An estimate as the server gave it, or nothing when there is none: "약 40초", "약 3분".
 * @param {unknown} seconds
 */
export function formatWait(seconds) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) return ''
  if (seconds < 120) return m().aboutSeconds(Math.max(1, Math.round(seconds)))
  return m().aboutMinutes(Math.round(seconds / 60))
}

/**
 * What a request's status line says.
 * @param {{ status: string, position?: number, reason?: string, estimatedWaitSeconds?: number }} view
 */
export function requestStatusText(view) {
  const s = m().status
  switch (view.status) {
    case 'checking':
      return s.checking
    case 'queued': {
      const place = view.position ? s.queued(view.position - 1) : s.queuedNoPlace
      const wait = formatWait(view.estimatedWaitSeconds)
      return wait ? `${place} · ${s.estimate(wait)}` : place
    }
    case 'waitlisted':
      return view.position ? s.waitlisted(view.position) : s.waitlistedNoPlace
    case 'enrolled':
      return s.enrolled
    case 'rejected':
      if (view.reason === 'LEFT_WAITLIST') return s.leftWaitlist
      return s.rejected(reasonText(view.reason))
    case 'unknown':
      return s.unknown
    default:
      return ''
  }
}

const SPACE = /\s+/g

/** For search: case-insensitive, composed Hangul, spaces ignored ("자료 구조" finds "자료구조"). */
export function normalizeSearch(/** @type {unknown} */ value) {
  return String(value ?? '')
    .normalize('NFC')
    .toLowerCase()
    .replace(SPACE, '')
}
