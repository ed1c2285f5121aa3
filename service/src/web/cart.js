// @ts-check
/* global document */
// The cart (장바구니): filled before the opening, put in order (the first course is asked for
// first), requested whole with one press, and settled once every course has its result.

import { api, segment } from './api.js'
import { serverNow } from './clock.js'
import { h, setAttr, setData, setText, syncChildren } from './dom.js'
import {
  $,
  AUTO_RETRY_LIMIT,
  announce,
  currentRequest,
  finite,
  focusLost,
  isDisabled,
  later,
  page,
  retryable,
  retrySeconds,
  secondsUntil,
  setDisabled,
  titleOf,
} from './state.js'
import { errorText, formatMeetings, formatSeconds, m, requestStatusText } from './text.js'
import { closedText, conflictNote, conflictsOf, updateAllCourses } from './courses.js'
import { trackRequest } from './requests.js'
import { refreshMe } from './app.js'
import { scheduleTimetable } from './timetable-view.js'

/**
 * Pressed this close to the opening, "request all" is kept and sent the moment registration
 * opens (by the server's clock, as the page knows it); earlier, the page says when to press.
 */
export const ARM_WINDOW_SECONDS = 10
/** How often an armed cart is sent again when the server's clock says it was a moment early. */
const EARLY_RETRIES = 3

/** @type {Map<string, HTMLElement>} */
export const cartRows = new Map()
/**
 * @typedef {{ title: HTMLElement, meta: HTMLElement, status: HTMLElement, warning: HTMLElement,
 *   up: HTMLElement, down: HTMLElement, remove: HTMLElement }} CartParts
 * @type {WeakMap<HTMLElement, CartParts>}
 */
const parts = new WeakMap()
let ordering = false

export function resetCart() {
  for (const row of cartRows.values()) row.remove()
  cartRows.clear()
  ordering = false
}

export async function loadCart() {
  const { state } = page
  const mine = page.session
  try {
    const { data } = await api('GET', '/api/v1/me/cart')
    if (mine !== page.session) return
    state.cart = (Array.isArray(data?.items) ? data.items : []).filter(
      (/** @type {any} */ item) => typeof item?.courseId === 'string',
    )
  } catch (error) {
    if (mine !== page.session || error.status === 401) return
    state.cartMessage = () => m().cart.loadFailed(errorText(error))
    later(() => void loadCart(), Math.max(5, error.retryAfter ?? 5) * 1000)
  }
  renderCart()
  updateAllCourses()
}

/**
 * Adds a course to the cart or takes it out.
 * @param {string} id @param {(() => HTMLElement) | null} [focusAfter]
 */
export async function toggleCart(id, focusAfter = null) {
  const { state } = page
  if (state.cartBusy.has(id)) return
  const inCart = state.cart.some((item) => item.courseId === id)
  const mine = page.session
  state.cartBusy.add(id)
  updateAllCourses()
  try {
    await api(inCart ? 'DELETE' : 'PUT', `/api/v1/me/cart/${segment(id)}`)
    if (mine !== page.session) return
    if (inCart) state.cart = state.cart.filter((item) => item.courseId !== id)
    else state.cart.push({ courseId: id, addedAt: new Date().toISOString() })
    state.cartResults.delete(id)
    state.cartBatch.delete(id)
    const title = titleOf(id)
    announce(inCart ? m().cart.removed(title) : m().cart.added(title))
  } catch (error) {
    if (mine !== page.session || error.status === 401) return
    if (inCart && error.code === 'NOT_IN_CART') {
      state.cart = state.cart.filter((item) => item.courseId !== id)
    } else {
      state.cartMessage = () => m().cart.failed(errorText(error))
      announce(m().cart.failed(errorText(error)))
    }
  } finally {
    if (mine === page.session) {
      state.cartBusy.delete(id)
      renderCart()
      // A course in or out of the cart changes the time conflicts other courses warn about.
      updateAllCourses()
      if (focusAfter && focusLost()) focusAfter().focus()
    }
  }
}

/**
 * Moves a course up or down the cart (its priority), kept by the server in the same step.
 * @param {string} id @param {-1 | 1} step
 */
async function moveInCart(id, step) {
  const { state } = page
  if (ordering) return
  const before = state.cart.slice()
  const from = before.findIndex((item) => item.courseId === id)
  const to = from + step
  if (from < 0 || to < 0 || to >= before.length) return
  const next = before.slice()
  const [moved] = next.splice(from, 1)
  if (!moved) return
  next.splice(to, 0, moved)
  const mine = page.session
  const row = cartRows.get(id)
  const focused = row && parts.get(row)
  const button = step < 0 ? focused?.up : focused?.down
  const hadFocus = button !== undefined && button === document.activeElement
  state.cart = next
  ordering = true
  renderCart()
  // The row moved: the button pressed keeps the focus (or its twin, at the cart's edge).
  if (hadFocus && focused) {
    const target = isDisabled(button) ? (step < 0 ? focused.down : focused.up) : button
    target.focus()
  }
  try {
    const { data } = await api('PUT', '/api/v1/me/cart', {
      body: { courseIds: next.map((item) => item.courseId) },
    })
    if (mine !== page.session) return
    if (Array.isArray(data?.items)) state.cart = data.items
    announce(m().cart.moved(titleOf(id), to + 1))
  } catch (error) {
    if (mine !== page.session || error.status === 401) return
    state.cart = before
    state.cartMessage = () => m().cart.failed(errorText(error))
    if (error.code === 'CART_CHANGED') {
      ordering = false
      await loadCart()
    }
  } finally {
    if (mine === page.session) {
      ordering = false
      renderCart()
    }
  }
}

/** @param {string} id */
function createCartRow(id) {
  /** @type {CartParts} */
  const p = {
    title: h('span', { class: 'cart-title' }),
    meta: h('span', { class: 'cart-meta' }),
    status: h('span', { class: 'cart-status', dataset: { testid: 'cart-item-status' } }),
    warning: h('p', { class: 'note warn', dataset: { testid: 'cart-item-warning', courseId: id } }),
    up: h('button', {
      type: 'button',
      class: 'button secondary small icon',
      dataset: { testid: 'cart-move-up', courseId: id },
      onclick: () => void moveInCart(id, -1),
    }),
    down: h('button', {
      type: 'button',
      class: 'button secondary small icon',
      dataset: { testid: 'cart-move-down', courseId: id },
      onclick: () => void moveInCart(id, 1),
    }),
    remove: h('button', {
      type: 'button',
      class: 'button secondary small',
      dataset: { testid: 'cart-remove', courseId: id },
      onclick: () => {
        const { state } = page
        // Where the focus goes when this item disappears: the item that takes its place, the
        // one before it, or the heading.
        const index = state.cart.findIndex((item) => item.courseId === id)
        const focusAfter = () => {
          const ids = state.cart.map((item) => item.courseId)
          const next = cartRows.get(ids[Math.min(index, ids.length - 1)] ?? '')
          return (next && parts.get(next)?.remove) || $.cartTitle
        }
        void toggleCart(id, focusAfter)
      },
    }),
  }
  const row = h(
    'li',
    { class: 'cart-item', dataset: { testid: 'cart-item', courseId: id } },
    h('div', { class: 'cart-text' }, p.title, p.meta, p.status),
    h('div', { class: 'cart-actions' }, p.up, p.down, p.remove),
    p.warning,
  )
  parts.set(row, p)
  return row
}

/**
 * Where a course of the cart stands: not asked for yet, on its way, or its result.
 * @param {string} id
 * @returns {'none' | 'live' | 'enrolled' | 'rejected' | 'waitlisted' | 'unknown'}
 */
export function outcomeOf(id) {
  const { state } = page
  if (state.pending.has(id)) return 'live'
  const view = currentRequest(id)
  if (view) {
    if (view.status === 'queued' || view.status === 'checking') return 'live'
    if (view.status === 'enrolled' || view.status === 'rejected') return view.status
    if (view.status === 'waitlisted' || view.status === 'unknown') return view.status
  }
  const refused = state.cartResults.get(id)
  if (refused) return refused.code === 'ALREADY_ENROLLED' ? 'enrolled' : 'rejected'
  if (state.enrolled.has(id)) return 'enrolled'
  return 'none'
}

/** @param {string} id */
export function updateCartRow(id) {
  const { state } = page
  const row = cartRows.get(id)
  if (!row) return
  const p = /** @type {CartParts} */ (parts.get(row))
  const course = state.courses.get(id)
  const title = titleOf(id)
  const t = m()
  setText(p.title, title)
  setText(
    p.meta,
    course
      ? `${id} · ${t.courses.credits(course.credits)} · ${formatMeetings(course.meetings)}`
      : id,
  )
  // The course's own answer when there is one; else what the cart's answer said of it.
  const view = currentRequest(id)
  const refused = state.cartResults.get(id)
  const outcome = outcomeOf(id)
  let status = ''
  if (state.pending.has(id)) status = t.button.sending
  else if (view) status = requestStatusText(view)
  else if (refused) status = errorText(refused)
  else if (outcome === 'enrolled') status = t.status.enrolled
  setText(p.status, status)
  setData(row, 'state', outcome)
  setData(p.status, 'status', outcome)
  row.classList.toggle('done', outcome === 'enrolled')
  row.classList.toggle('failed', outcome === 'rejected' || outcome === 'unknown')

  const warning = conflictNote(id)
  setText(p.warning, warning?.text() ?? '')

  const index = state.cart.findIndex((item) => item.courseId === id)
  const busy = state.cartBusy.has(id)
  setText(p.up, t.cart.moveUp)
  setText(p.down, t.cart.moveDown)
  setText(p.remove, t.cart.remove)
  setAttr(p.up, 'aria-label', t.cart.moveUpName(title))
  setAttr(p.down, 'aria-label', t.cart.moveDownName(title))
  setAttr(p.remove, 'aria-label', t.cart.removeName(title))
  setDisabled(p.up, ordering || busy || index <= 0)
  setDisabled(p.down, ordering || busy || index < 0 || index >= state.cart.length - 1)
  setDisabled(p.remove, busy)
}

export function renderCart() {
  const { state } = page
  const ids = state.cart.map((item) => item.courseId)
  syncChildren($.cartList, ids, cartRows, createCartRow)
  for (const id of ids) updateCartRow(id)
  const credits = ids.reduce((sum, id) => sum + (finite(state.courses.get(id)?.credits) ?? 0), 0)
  setText($.cartSummary, ids.length ? m().cart.summary(ids.length, credits) : m().cart.empty)
  const clashes = ids.some((id) => !state.enrolled.has(id) && conflictsOf(id).cart.length > 0)
  setText($.cartConflicts, clashes ? m().cart.conflicts : '')
  renderCartButtons()
}

/**
 * What "request all" says and does now (the cart's button and the pinned bar's alike).
 * @returns {{ label: string, disabled: boolean, state: string }}
 */
function cartButtonState() {
  const { state } = page
  const t = m().cart
  const pending = state.cartPending
  const count = state.cart.length
  if (pending?.kind === 'sending') return { label: t.sending, disabled: true, state: 'sending' }
  if (pending?.kind === 'retrying') {
    const s = secondsUntil(pending.until ?? 0)
    return pending.armed
      ? { label: t.sending, disabled: true, state: 'sending' }
      : { label: m().button.autoRetry(s), disabled: true, state: 'retrying' }
  }
  if (pending?.kind === 'blocked') {
    return {
      label: m().button.retryIn(secondsUntil(pending.until ?? 0)),
      disabled: true,
      state: 'blocked',
    }
  }
  if (state.cartArmed && state.phase === 'before') {
    return { label: t.armed, disabled: false, state: 'armed' }
  }
  if (count === 0) return { label: t.requestAll(0), disabled: true, state: 'empty' }
  if (state.phase === 'closed')
    return { label: t.requestAll(count), disabled: true, state: 'closed' }
  const outcomes = state.cart.map((item) => outcomeOf(item.courseId))
  if (!outcomes.includes('none')) {
    if (outcomes.includes('live'))
      return { label: t.inProgress, disabled: true, state: 'in-progress' }
    return { label: t.settled, disabled: true, state: 'settled' }
  }
  if (state.phase === 'before')
    return { label: t.requestAll(count), disabled: false, state: 'not-open' }
  return { label: t.requestAll(count), disabled: false, state: 'ready' }
}

export function renderCartButtons() {
  const button = cartButtonState()
  for (const element of [$.cartRequest, $.barRequest]) {
    setText(element, button.label)
    setDisabled(element, button.disabled)
    setData(element, 'state', button.state)
  }
  setText($.cartMessage, page.state.cartMessage?.() ?? '')
}

/** Both buttons: send the cart, or (before the opening) keep it for the opening or say when. */
export function pressCartButton() {
  const { state } = page
  const button = cartButtonState()
  if (button.state === 'armed') {
    state.cartArmed = false
    state.cartMessage = () => m().cart.disarmed
    announce(m().cart.disarmed)
    renderCartButtons()
    return
  }
  if (button.disabled) return
  if (state.phase === 'before' && state.registration.opensAt !== null) {
    const remaining = state.registration.opensAt - serverNow()
    if (remaining <= ARM_WINDOW_SECONDS * 1000) {
      state.cartArmed = true
      state.cartMessage = () => m().cart.armedMessage
      announce(m().cart.armedMessage)
    } else {
      const left = formatSeconds(remaining / 1000)
      state.cartMessage = () => m().cart.notYet(left, ARM_WINDOW_SECONDS)
      announce(m().cart.notYet(left, ARM_WINDOW_SECONDS))
    }
    renderCartButtons()
    return
  }
  void requestCart()
}

/** The opening came: an armed cart is sent now. */
export function openingCame() {
  const { state } = page
  if (!state.cartArmed) return
  state.cartArmed = false
  void requestCart(false, true)
}

/** The message while the cart's courses are decided: counted from what the page knows now. */
function progressText() {
  const { state } = page
  let waiting = 0
  let enrolled = 0
  let failed = 0
  for (const id of state.cartBatch) {
    const outcome = outcomeOf(id)
    if (outcome === 'live' || outcome === 'none') waiting += 1
    else if (outcome === 'enrolled') enrolled += 1
    else failed += 1
  }
  return m().cart.progress(waiting, enrolled, failed)
}

/**
 * POST /me/cart/enrollment-requests: the whole cart, in its order, in one press.
 * @param {boolean} [auto] a retry the page made by itself
 * @param {boolean} [armed] sent at the opening because the student pressed just before it
 */
export async function requestCart(auto = false, armed = false) {
  const { state } = page
  const pending = state.cartPending
  if (auto ? pending?.kind !== 'retrying' : !armed && cartButtonState().disabled) return
  const attempts = auto ? (pending?.attempts ?? 0) : 0
  const early = armed || (auto && pending?.armed === true)
  const mine = page.session
  state.cartPending = { kind: 'sending', attempts, armed: early }
  state.cartBatch = new Set(state.cart.map((item) => item.courseId))
  for (const { courseId } of state.cart) {
    state.cartResults.delete(courseId)
    if (!state.pending.has(courseId)) {
      state.pending.set(courseId, { kind: 'sending', attempts: 0, viaCart: true })
    }
  }
  state.cartMessage = () => m().cart.sendingMessage
  renderCart()
  updateAllCourses()
  try {
    const { data } = await api('POST', '/api/v1/me/cart/enrollment-requests', { body: {} })
    if (mine !== page.session) return
    state.cartPending = null
    clearCartSending()
    for (const result of Array.isArray(data?.results) ? data.results : []) {
      if (!result || typeof result.courseId !== 'string') continue
      const { courseId } = result
      if (typeof result.requestId === 'string') {
        state.waitlistOffer.delete(courseId)
        state.notes.delete(courseId)
        trackRequest(result)
      } else {
        const code = String(result.error?.code ?? '')
        if (code === 'COURSE_FULL') state.waitlistOffer.add(courseId)
        if (code === 'ALREADY_ENROLLED') {
          state.enrolled.add(courseId)
          scheduleTimetable()
        }
        state.cartResults.set(courseId, { code })
      }
    }
    state.cartMessage = progressText
    announce(progressText())
  } catch (error) {
    if (mine !== page.session) return
    state.cartPending = null
    clearCartSending()
    if (error.status !== 401) {
      const message = cartRefused(error, attempts, early)
      state.cartMessage = () => message
      announce(message)
    }
  }
  renderCart()
  updateAllCourses()
  cartDecided()
}

function clearCartSending() {
  for (const [courseId, pending] of page.state.pending) {
    if (pending.viaCart) page.state.pending.delete(courseId)
  }
}

/**
 * @param {import('./api.js').ApiError} error @param {number} attempts
 * @param {boolean} early sent at the opening by the page: a moment early by the server's clock
 *   is tried again at the server's opening
 * @returns {string}
 */
function cartRefused(error, attempts, early) {
  const { state } = page
  state.cartBatch.clear()
  if (error.code === 'REGISTRATION_CLOSED') {
    const opensAt = typeof error.body?.opensAt === 'string' ? Date.parse(error.body.opensAt) : NaN
    const ahead = opensAt - serverNow()
    if (early && attempts < EARLY_RETRIES && Number.isFinite(ahead) && ahead < 60_000) {
      const wait = Math.max(0, ahead) + 150 + Math.random() * 350
      state.cartPending = {
        kind: 'retrying',
        until: Date.now() + wait,
        attempts: attempts + 1,
        armed: true,
      }
      later(() => void requestCart(true), wait)
      return m().cart.armedMessage
    }
    void refreshMe()
    return closedText(error)
  }
  if (error.status === 429) {
    const seconds = Math.max(1, error.retryAfter ?? 5)
    state.cartPending = { kind: 'blocked', until: Date.now() + seconds * 1000, attempts }
    later(() => {
      if (state.cartPending?.kind !== 'blocked') return
      state.cartPending = null
      state.cartMessage = null
      renderCartButtons()
    }, seconds * 1000)
    return m().notes.tooFast(formatSeconds(seconds))
  }
  if (retryable(error)) {
    if (attempts >= AUTO_RETRY_LIMIT) return m().notes.retryStopped(errorText(error))
    const seconds = retrySeconds(error, attempts)
    state.cartPending = {
      kind: 'retrying',
      until: Date.now() + seconds * 1000,
      attempts: attempts + 1,
      armed: early,
    }
    later(() => void requestCart(true), seconds * 1000)
    const why = error.status === 0 ? m().notes.cannotConnect : m().notes.busy
    return m().notes.autoRetrying(why, formatSeconds(seconds))
  }
  return errorText(error)
}

/**
 * A course of the cart may have its result now. Once every course of the last press has one,
 * the cart settles: enrolled courses leave it (here and on the server), the others keep their
 * result, and the button says why it is done.
 */
export function cartDecided() {
  const { state } = page
  if (state.cartPending) return
  if (state.cartBatch.size === 0) {
    // A course enrolled later (a waitlist promotion) leaves the cart too.
    const enrolled = state.cart.filter((item) => outcomeOf(item.courseId) === 'enrolled')
    if (enrolled.length > 0) clearFromCart(enrolled.map((item) => item.courseId))
    return
  }
  const outcomes = [...state.cartBatch].map((id) => [id, outcomeOf(id)])
  if (outcomes.some(([, outcome]) => outcome === 'live' || outcome === 'none')) {
    renderCartButtons()
    return
  }
  const done = outcomes
    .filter(([, o]) => o === 'enrolled')
    .map(([id]) => /** @type {string} */ (id))
  const failed = outcomes.length - done.length
  state.cartBatch.clear()
  state.cartMessage = () => m().cart.settledMessage(done.length, failed)
  announce(m().cart.settledMessage(done.length, failed))
  clearFromCart(done)
}

/** Takes enrolled courses out of the cart, here and on the server. @param {string[]} ids */
function clearFromCart(ids) {
  const { state } = page
  const mine = page.session
  for (const id of ids) {
    if (!state.cart.some((item) => item.courseId === id)) continue
    state.cart = state.cart.filter((item) => item.courseId !== id)
    void api('DELETE', `/api/v1/me/cart/${segment(id)}`).catch(() => {
      // Left on the server: the next load shows it again, as enrolled.
      if (mine === page.session) void loadCart()
    })
  }
  renderCart()
  updateAllCourses()
}
