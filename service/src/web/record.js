// @ts-check
// A decided request's place in the fairness record (docs/fairness.md), behind a disclosure on its
// row: its arrival number, how many requests of the course arrived before it, and the course's
// digest (its number of entries and the first characters of its last hash), which anyone can
// save to check later that the record was not rewritten. The record is read once each time the
// student opens the disclosure: never while the request is queued, never on a render.

import { api, segment } from './api.js'
import { formatTime } from './clock.js'
import { h, setAttr, setData, setText } from './dom.js'
import { page } from './state.js'
import { errorText, m } from './text.js'

/** Statuses decided out of the queue (a seat, a waitlist place, a refusal): they have entries. */
const DECIDED = new Set(['enrolled', 'rejected', 'waitlisted'])
/** How much of the head hash is shown: enough to compare by eye, short enough to copy down. */
const SHOWN_HASH = 12
/** Answers that say the record will not be there however often it is asked. */
const FINAL_ERRORS = new Set(['NOT_RECORDED', 'REQUEST_NOT_FOUND'])

/**
 * @typedef {{ arrival: number | null, arrivedBefore: number | null, entries: number,
 *   head: string, readAt: number }} RecordData
 * @typedef {{ toggle: HTMLButtonElement, panel: HTMLElement, facts: HTMLElement,
 *   arrival: HTMLElement, before: HTMLElement, digest: HTMLElement, digestText: HTMLElement,
 *   hash: HTMLElement, asOf: HTMLElement, explain: HTMLElement, status: HTMLElement,
 *   retry: HTMLButtonElement }} RecordParts
 * @typedef {{ parts: RecordParts, open: boolean, loading: boolean, data: RecordData | null,
 *   error: { code: string, status: number } | null, asked: number, askedFor: string,
 *   status: string }} RecordRow
 */

/** requestId → its disclosure @type {Map<string, RecordRow>} */
const rows = new Map()

/** Forgets every disclosure (log out). */
export function resetRecords() {
  rows.clear()
}

/** Forgets the disclosures of requests no longer listed. @param {readonly string[]} listed */
export function forgetRecords(listed) {
  const keep = new Set(listed)
  for (const requestId of rows.keys()) if (!keep.has(requestId)) rows.delete(requestId)
}

/**
 * The disclosure's button (for the row's last line, where it takes no room of its own) and its
 * region (placed after that line: closed, it is not drawn).
 * @param {string} requestId
 */
export function createRecord(requestId) {
  const id = `record-${requestId}`
  const toggleId = `${id}-toggle`
  /** @type {RecordParts} */
  const p = {
    toggle: h('button', {
      type: 'button',
      class: 'record-toggle',
      id: toggleId,
      'aria-expanded': 'false',
      'aria-controls': id,
      hidden: true,
      dataset: { testid: 'record-toggle', requestId },
      onclick: () => toggleRecord(requestId),
    }),
    panel: h('div', {
      class: 'record',
      id,
      role: 'region',
      'aria-labelledby': toggleId,
      hidden: true,
      dataset: { testid: 'record-panel', requestId },
    }),
    facts: h('ul', { class: 'record-facts' }),
    arrival: h('li', { dataset: { testid: 'record-arrival' } }),
    before: h('li', { dataset: { testid: 'record-before' } }),
    digest: h('li', { class: 'record-digest', dataset: { testid: 'record-digest' } }),
    digestText: h('span'),
    hash: h('code', { class: 'record-hash', dataset: { testid: 'record-hash' } }),
    asOf: h('span', { class: 'record-as-of' }),
    explain: h('p', { class: 'record-explain', dataset: { testid: 'record-explain' } }),
    status: h('p', { class: 'record-status', dataset: { testid: 'record-status' } }),
    retry: h('button', {
      type: 'button',
      class: 'button secondary small record-retry',
      hidden: true,
      dataset: { testid: 'record-retry' },
      onclick: () => void loadRecord(requestId),
    }),
  }
  p.digest.append(p.digestText, ' ', p.hash, ' ', p.asOf)
  p.facts.append(p.arrival, p.before, p.digest)
  p.panel.append(p.status, p.facts, p.explain, p.retry)
  rows.set(requestId, {
    parts: p,
    open: false,
    loading: false,
    data: null,
    error: null,
    asked: 0,
    askedFor: '',
    status: '',
  })
  return { toggle: p.toggle, panel: p.panel }
}

/**
 * Draws the disclosure for the request as it stands. Reads nothing, except when the decision
 * changed under an open disclosure (a waitlist place became a seat): then what it shows is
 * read again, once.
 * @param {string} requestId @param {import('./state.js').RequestView} view @param {string} title
 */
export function updateRecord(requestId, view, title) {
  const row = rows.get(requestId)
  if (!row) return
  const decided = DECIDED.has(view.status)
  row.status = view.status
  row.parts.toggle.hidden = !decided
  if (!decided) row.open = false
  setText(row.parts.toggle, m().record.toggle)
  setAttr(row.parts.toggle, 'aria-label', m().record.toggleName(title))
  if (row.open && !row.loading && row.askedFor !== view.status) {
    void loadRecord(requestId)
    return
  }
  renderRecord(row)
}

/** @param {string} requestId */
function toggleRecord(requestId) {
  const row = rows.get(requestId)
  if (!row || !DECIDED.has(row.status)) return
  row.open = !row.open
  if (row.open) void loadRecord(requestId)
  else renderRecord(row)
}

/** One GET of the request's record; an older answer arriving late is dropped. @param {string} requestId */
async function loadRecord(requestId) {
  const row = rows.get(requestId)
  if (!row) return
  const mine = page.session
  const asked = ++row.asked
  row.loading = true
  row.askedFor = row.status
  row.error = null
  renderRecord(row)
  /** @type {RecordData | null} */
  let data = null
  /** @type {{ code: string, status: number } | null} */
  let error = null
  try {
    const answer = await api('GET', `/api/v1/enrollment-requests/${segment(requestId)}/record`)
    data = recordOf(answer.data, answer.receivedAt)
    if (!data) error = { code: 'BAD_ANSWER', status: answer.status }
  } catch (failure) {
    error = { code: String(failure?.code ?? 'NETWORK'), status: Number(failure?.status ?? 0) }
  }
  if (mine !== page.session || rows.get(requestId) !== row || asked !== row.asked) return
  row.loading = false
  row.data = data
  row.error = error
  renderRecord(row)
}

/** The answer as the page uses it, or null when it is not one. @param {any} body @param {number} at */
function recordOf(body, at) {
  const digest = body?.digest
  if (!digest || typeof digest.head !== 'string' || !Number.isInteger(digest.entries)) return null
  const count = (/** @type {unknown} */ n) =>
    Number.isInteger(n) ? /** @type {number} */ (n) : null
  return {
    arrival: count(body.arrival),
    arrivedBefore: count(body.arrivedBefore),
    entries: digest.entries,
    head: digest.head,
    readAt: at,
  }
}

/** @param {RecordRow} row */
function renderRecord(row) {
  const p = row.parts
  const t = m().record
  setAttr(p.toggle, 'aria-expanded', row.open ? 'true' : 'false')
  p.panel.hidden = !row.open
  const state = row.loading ? 'loading' : row.error ? 'error' : row.data ? 'loaded' : 'closed'
  setData(p.panel, 'state', state)
  setData(p.panel, 'code', row.error?.code ?? '')
  setAttr(p.panel, 'aria-busy', row.loading ? 'true' : null)
  if (!row.open) return

  const data = !row.loading && !row.error ? row.data : null
  // While loading, the list keeps its lines (each holds a line's height, empty) and the first
  // says so: the answer fills them in without moving what follows.
  p.facts.hidden = row.error !== null
  p.explain.hidden = row.error !== null
  setText(p.explain, t.explain)
  let arrival = t.loading
  if (data) arrival = data.arrival !== null ? t.arrival(data.arrival) : t.noArrival
  setText(p.arrival, arrival)
  setText(p.before, data && data.arrivedBefore !== null ? t.before(data.arrivedBefore) : '')
  p.before.hidden = Boolean(data) && data?.arrivedBefore === null
  setText(p.digestText, data ? t.digest(data.entries) : '')
  setText(p.hash, data ? data.head.slice(0, SHOWN_HASH) : '')
  setData(p.hash, 'head', data ? data.head : '')
  setText(p.asOf, data ? t.asOf(formatTime(data.readAt)) : '')
  setData(p.digest, 'entries', data ? data.entries : '')

  let status = ''
  if (row.error?.code === 'NOT_RECORDED') status = t.notRecorded
  else if (row.error?.code === 'NOT_DECIDED_YET') status = t.notDecided
  else if (row.error) status = t.failed(errorText(row.error))
  setText(p.status, status)
  p.status.hidden = status === ''
  setData(p.status, 'tone', row.error ? 'error' : '')
  p.retry.hidden = !row.error || FINAL_ERRORS.has(row.error.code)
  setText(p.retry, t.retry)
}
