// @ts-check
/* global document, window */
// The student page: log in, count down to this student's opening with the server's clock and
// the request button pinned in view, browse courses, fill and order the cart, ask for seats,
// wait in line with the people ahead and the estimated wait shown, and keep the timetable. In
// Korean or English. What the operators tell every student (a banner, a pause, a moved opening)
// arrives over the same stream (notices.js).

import { api, setUnauthenticatedHandler } from './api.js'
import {
  formatCountdown,
  formatDateTime,
  formatTime,
  serverNow,
  spokenCountdown,
  syncClock,
} from './clock.js'
import { setAttr, setData, setText } from './dom.js'
import {
  $,
  MILESTONES,
  STUDENT_ID,
  STUDENT_KEY,
  announce,
  clearTimers,
  finite,
  inputs,
  isDisabled,
  later,
  newState,
  page,
  readJson,
  requestsKey,
  secondsUntil,
  setDisabled,
  writeJson,
} from './state.js'
import { errorText, formatSeconds, initialLang, lang, m, setLang } from './text.js'
import {
  applyFilters,
  pauseCourses,
  refreshCourses,
  renderCoursesUpdated,
  renderPendingLabels,
  resetCourses,
  resumeCourses,
  updateAllCourses,
} from './courses.js'
import {
  ARM_WINDOW_SECONDS,
  loadCart,
  openingCame,
  pressCartButton,
  renderCart,
  renderCartButtons,
  resetCart,
} from './cart.js'
import {
  renderConnection,
  renderRequestTimes,
  renderRequests,
  resetRequests,
  resumeRequests,
  watcher,
} from './requests.js'
import { refreshTimetable, renderTimetable, resetTimetable } from './timetable-view.js'
import { dismissNotice, loadNotices, onNotices, renderNotices } from './notices.js'

/**
 * The page asks for its window again when the window's version changes. The first version it
 * hears of may be a move its window already has, or one made just before GET /me answered (the
 * instance that answered learns of a move within a second): it asks again only for a move made
 * after its window was read, less this margin.
 */
const MOVE_MARGIN_MS = 5000
/** Every open page asks at once otherwise: spread over this (ms). */
const MOVE_SPREAD_MS = 2000

let loginBusy = false
/** After a 429: until when, and for which student id (null: any, the limit is this browser's). */
let loginBlock = { until: 0, studentId: /** @type {string | null} */ (null) }
/** What the login view says (kept as a message, so it follows a change of language). */
/** @type {{ notice: (() => string) | null, error: (() => string) | null }} */
const loginTexts = { notice: null, error: null }
/** @type {(() => string) | null} */
let bootText = null

// ---------------------------------------------------------------------------------------------
// Start, log in, log out

function boot() {
  setLang(initialLang())
  setUnauthenticatedHandler(sessionEnded)
  $.loginForm.addEventListener('submit', (event) => void onLogin(event))
  $.loginStudentId.addEventListener('input', renderLoginButton)
  $.logout.addEventListener('click', () => void logout())
  $.langSwitch.addEventListener('click', switchLanguage)
  $.noticeDismiss.addEventListener('click', dismissNotice)
  onNotices({
    pauses: () => {
      if (page.state.me) renderRequests()
    },
    window: windowVersionHeard,
  })
  $.search.addEventListener('input', () => applyFilters(true))
  $.filterDay.addEventListener('change', () => applyFilters(true))
  $.filterSeats.addEventListener('change', () => applyFilters(true))
  $.cartRequest.addEventListener('click', pressCartButton)
  $.barRequest.addEventListener('click', pressCartButton)
  // The skip link focuses the button itself, whatever the browser does with the fragment.
  $.skipRush.addEventListener('click', (event) => {
    event.preventDefault()
    $.barRequest.focus()
  })
  document.addEventListener('visibilitychange', onVisibility)
  window.addEventListener('online', () => {
    if (!page.state.me) return
    watcher.nudge()
    void refreshCourses()
    renderConnection()
  })
  window.addEventListener('offline', renderConnection)
  renderLanguageSwitch()
  tick()
  void start()
}

async function start(fromLogin = false) {
  const mine = ++page.session
  try {
    await loadMe(true)
  } catch (error) {
    if (mine !== page.session) return
    if (error.status === 401) showLogin()
    else showBootError(error)
    return
  }
  if (mine !== page.session) return
  showApp(fromLogin)
  await Promise.all([refreshCourses(), loadCart(), refreshTimetable()])
  if (mine !== page.session) return
  await resumeRequests()
  if (mine !== page.session) return
  // The stream stays open for the notices, with or without requests to watch.
  watcher.start()
}

/** @param {import('./api.js').ApiError} error */
function showBootError(error) {
  const seconds = error.retryAfter ?? 5
  $.loginView.hidden = true
  $.appView.hidden = true
  $.boot.hidden = false
  bootText = () => m().login.reconnect(errorText(error), formatSeconds(seconds))
  setText($.bootText, bootText())
  later(() => void start(), seconds * 1000)
}

/** @param {(() => string) | null} [notice] */
function showLogin(notice = null) {
  $.boot.hidden = true
  $.appView.hidden = true
  $.account.hidden = true
  $.skipRush.hidden = true
  $.loginView.hidden = false
  // No stream before logging in: one look, so the banner is on the login page too.
  void loadNotices()
  loginTexts.notice = notice
  renderLoginTexts()
  const remembered = readJson(STUDENT_KEY)
  if (!inputs.studentId.value && typeof remembered?.studentId === 'string') {
    inputs.studentId.value = remembered.studentId
  }
  renderLoginButton()
  ;(inputs.studentId.value ? inputs.password : inputs.studentId).focus()
}

function renderLoginTexts() {
  if (!$.loginView.hidden) document.title = m().login.pageTitle
  setText($.loginNotice, loginTexts.notice?.() ?? '')
  setText($.loginError, loginTexts.error?.() ?? '')
}

/** @param {boolean} fromLogin */
function showApp(fromLogin) {
  $.boot.hidden = true
  $.loginView.hidden = true
  $.appView.hidden = false
  $.account.hidden = false
  $.skipRush.hidden = false
  document.title = m().registration.pageTitle
  renderHeader()
  renderRegistration()
  renderCart()
  renderRequests()
  renderConnection()
  if (fromLogin) $.main.focus()
}

/** @param {(() => string) | null} text @param {HTMLInputElement | null} [field] */
function loginError(text, field = null) {
  loginTexts.error = text
  renderLoginTexts()
  for (const input of [inputs.studentId, inputs.password]) {
    if (input === field) input.setAttribute('aria-invalid', 'true')
    else input.removeAttribute('aria-invalid')
  }
  if (field) field.focus()
}

function loginBlocked() {
  if (loginBlock.until <= Date.now()) return false
  return loginBlock.studentId === null || loginBlock.studentId === inputs.studentId.value.trim()
}

function renderLoginButton() {
  let label = m().static.loginSubmit
  if (loginBusy) label = m().login.busy
  else if (loginBlocked()) label = m().login.retryIn(formatSeconds(secondsUntil(loginBlock.until)))
  setText($.loginSubmit, label)
  setDisabled($.loginSubmit, loginBusy || loginBlocked())
}

/** @param {Event} event */
async function onLogin(event) {
  event.preventDefault()
  if (loginBusy || loginBlocked()) return
  const studentId = inputs.studentId.value.trim()
  const password = inputs.password.value
  if (!studentId) return loginError(() => m().login.needId, inputs.studentId)
  if (!STUDENT_ID.test(studentId)) return loginError(() => m().login.badId, inputs.studentId)
  if (!password) return loginError(() => m().login.needPassword, inputs.password)
  loginError(null)
  loginBusy = true
  renderLoginButton()
  try {
    const { data } = await api('POST', '/api/v1/auth/login', {
      body: { studentId, password },
      quiet401: true,
    })
    inputs.password.value = ''
    writeJson(STUDENT_KEY, { studentId: data?.studentId ?? studentId, name: data?.name ?? '' })
    loginBusy = false
    loginTexts.notice = null
    await start(true)
  } catch (error) {
    if (error.status === 429) {
      const seconds = error.retryAfter ?? 60
      // A locked account is that student id's; the other limits are this browser's or network's.
      loginBlock = {
        until: Date.now() + seconds * 1000,
        studentId: error.code === 'ACCOUNT_LOCKED' ? studentId : null,
      }
      loginError(() => m().login.blocked(errorText(error), formatSeconds(seconds)))
    } else if (error.code === 'INVALID_CREDENTIALS') {
      inputs.password.value = ''
      loginError(() => errorText(error), inputs.password)
    } else if (error.code === 'VALIDATION_FAILED') {
      loginError(() => m().login.badFormat, inputs.studentId)
    } else {
      loginError(() => errorText(error))
    }
  } finally {
    loginBusy = false
    renderLoginButton()
  }
}

/** Any API call answered 401: the session ended (expired, or logged out elsewhere). */
function sessionEnded() {
  if (!page.state.me) return
  teardown()
  showLogin(() => m().login.expired)
}

async function logout() {
  if (isDisabled($.logout)) return
  setDisabled($.logout, true)
  const studentId = page.state.me?.studentId
  let notice = () => m().login.loggedOut
  try {
    await api('POST', '/api/v1/auth/logout', { quiet401: true })
  } catch {
    notice = () => m().login.logoutFailed
  }
  if (studentId) writeJson(requestsKey(studentId), null)
  writeJson(STUDENT_KEY, null)
  teardown()
  setDisabled($.logout, false)
  inputs.studentId.value = ''
  showLogin(notice)
}

/** Forgets everything of the session: timers, the watcher, the lists. */
function teardown() {
  page.session += 1
  watcher.stop()
  clearTimers()
  page.state = newState()
  resetCourses()
  resetCart()
  resetRequests()
  resetTimetable()
  for (const element of [
    $.coursesError,
    $.courseCount,
    $.coursesUpdated,
    $.cartMessage,
    $.timetableError,
    $.timetableCredits,
    $.studentInfo,
  ]) {
    setText(element, '')
  }
  inputs.search.value = ''
  inputs.filterDay.value = ''
  inputs.filterSeats.checked = false
}

// ---------------------------------------------------------------------------------------------
// Language

function renderLanguageSwitch() {
  setAttr($.langSwitch, 'lang', lang() === 'ko' ? 'en' : 'ko')
}

/** Korean ⇄ English: the fixed texts at once, everything else drawn again. */
function switchLanguage() {
  setLang(lang() === 'ko' ? 'en' : 'ko')
  renderLanguageSwitch()
  renderLoginTexts()
  renderLoginButton()
  renderNotices()
  if (bootText && !$.boot.hidden) setText($.bootText, bootText())
  if (!page.state.me) return
  document.title = m().registration.pageTitle
  renderHeader()
  renderRegistration()
  updateAllCourses()
  applyFilters(false)
  renderCoursesUpdated()
  renderCart()
  renderRequests()
  renderConnection()
  renderTimetable()
}

// ---------------------------------------------------------------------------------------------
// Who I am, and the registration window

/** GET /api/v1/me: who is logged in, and their own registration window. */
async function loadMe(quiet401 = false) {
  const { state } = page
  const { data, sentAt, receivedAt } = await api('GET', '/api/v1/me', { quiet401 })
  const registration = data?.registration ?? {}
  syncClock(registration.serverTime, sentAt, receivedAt)
  const time = (/** @type {unknown} */ value) => {
    const ms = typeof value === 'string' ? Date.parse(value) : NaN
    return Number.isNaN(ms) ? null : ms
  }
  const serverTime = time(registration.serverTime) ?? serverNow()
  const opensAt = time(registration.opensAt)
  const before = state.registration
  state.me = {
    studentId: String(data.studentId),
    name: String(data.name ?? ''),
    year: finite(data.year) ?? null,
    maxCredits: finite(data.maxCredits) ?? null,
  }
  state.registration = {
    known: typeof registration.open === 'boolean',
    open: registration.open === true,
    opensAt,
    closesAt: time(registration.closesAt),
    // The opening was still ahead when the server answered: once the countdown reaches it,
    // the page treats registration as open (and asks /me again to be sure).
    opensAhead: opensAt !== null && serverTime < opensAt,
    readAt: serverTime,
  }
  if (before.known && before.opensAt !== opensAt) openingMoved(opensAt, serverTime)
  writeJson(STUDENT_KEY, { studentId: state.me.studentId, name: state.me.name })
}

/**
 * An operator moved this student's opening (the page asked again): the countdown starts over
 * for the new time, and a cart set to go at the old one is not sent at it.
 * @param {number | null} opensAt @param {number} now
 */
function openingMoved(opensAt, now) {
  const { state } = page
  state.resyncedNearOpen = false
  state.milestone = undefined
  if (opensAt !== null && opensAt > now) state.announcedOpen = false
  if (opensAt !== null) announce(m().registration.moved(formatDateTime(opensAt)))
  if (state.cartArmed && (opensAt === null || opensAt - now > ARM_WINDOW_SECONDS * 1000)) {
    state.cartArmed = false
    state.cartMessage = () => m().cart.windowMoved
    announce(m().cart.windowMoved)
  }
  renderCartButtons()
}

/**
 * The registration window's version (notices.js): when it changes, an operator moved an opening,
 * and the page asks for its own window again.
 * @param {string} version @param {string | undefined} previous undefined: the first one heard
 */
function windowVersionHeard(version, previous) {
  const { state } = page
  if (!state.me) return
  if (previous === undefined) {
    if (!version) return
    const movedAt = Date.parse(version)
    const readAt = state.registration.readAt
    if (!Number.isNaN(movedAt) && readAt !== null && movedAt < readAt - MOVE_MARGIN_MS) return
  }
  later(() => void refreshMe(), Math.random() * MOVE_SPREAD_MS)
}

/** Asks /me again (the opening came, the tab woke up, a 403): corrects clock and window. */
export async function refreshMe() {
  const mine = page.session
  try {
    await loadMe()
  } catch {
    return
  }
  if (mine !== page.session) return
  renderHeader()
  renderRegistration()
}

function renderHeader() {
  const me = page.state.me
  if (!me) return
  const t = m().header
  const bits = [me.name ? `${me.name} (${me.studentId})` : me.studentId]
  if (me.year) bits.push(t.year(me.year))
  if (me.maxCredits) bits.push(t.maxCredits(me.maxCredits))
  setText($.studentInfo, bits.filter(Boolean).join(' · '))
}

/** @param {number} now @returns {'unknown' | 'before' | 'open' | 'closed'} */
function currentPhase(now) {
  const r = page.state.registration
  if (!r.known) return 'unknown'
  if (r.closesAt !== null && now >= r.closesAt) return 'closed'
  if (r.open) return 'open'
  if (r.opensAt !== null && now < r.opensAt) return 'before'
  if (r.opensAhead) return 'open'
  return 'closed'
}

/**
 * The pinned bar: where registration stands, the countdown, the server's clock (students
 * compare it with the official time) and the "request all" button, kept in view during the
 * countdown and the rush.
 */
function renderRegistration() {
  const { state } = page
  if (!state.me) return
  const now = serverNow()
  const r = state.registration
  const previous = state.phase
  const phase = currentPhase(now)
  const t = m().registration
  state.phase = phase
  setData($.registration, 'state', phase)
  setText($.serverClock, t.serverClock(formatTime(now)))
  $.barRequest.hidden = phase !== 'before' && phase !== 'open'

  if (phase === 'before' && r.opensAt !== null) {
    const remaining = r.opensAt - now
    setText($.registrationLabel, t.before(state.me.year))
    $.countdown.hidden = false
    setText($.countdown, formatCountdown(remaining))
    setData($.countdown, 'remainingSeconds', Math.max(0, Math.ceil(remaining / 1000)))
    setText(
      $.registrationDetail,
      t.beforeDetail(
        formatDateTime(r.opensAt),
        r.closesAt !== null ? formatDateTime(r.closesAt) : null,
      ),
    )
    announceMilestone(remaining)
    // One more look at the server's clock shortly before the opening.
    if (remaining < 65_000 && !state.resyncedNearOpen) {
      state.resyncedNearOpen = true
      later(() => void refreshMe(), Math.random() * 3000)
    }
  } else {
    $.countdown.hidden = true
    setData($.countdown, 'remainingSeconds', 0)
    if (phase === 'open') {
      setText($.registrationLabel, t.open)
      setText(
        $.registrationDetail,
        t.openDetail(r.closesAt !== null ? formatDateTime(r.closesAt) : null),
      )
    } else if (phase === 'closed') {
      setText($.registrationLabel, t.closed)
      setText(
        $.registrationDetail,
        r.closesAt !== null && now >= r.closesAt
          ? t.closedAt(formatDateTime(r.closesAt))
          : t.closedHint,
      )
    } else {
      setText($.registrationLabel, t.unknown)
      setText($.registrationDetail, t.unknownDetail)
    }
  }

  if (previous !== phase) {
    if (previous === 'before' && phase === 'open') {
      if (!state.announcedOpen) announce(t.announceOpen)
      state.announcedOpen = true
      openingCame()
      // Confirm with the server, spread over a second so not every page asks at once.
      later(() => void refreshMe(), 200 + Math.random() * 1000)
    } else if (previous === 'open' && phase === 'closed') {
      announce(t.announceClosed)
      later(() => void refreshMe(), 500)
    }
    updateAllCourses()
    renderCartButtons()
  }
}

/** @param {number} remaining */
function announceMilestone(remaining) {
  const { state } = page
  const seconds = Math.ceil(remaining / 1000)
  const bracket = MILESTONES.filter((x) => seconds <= x).at(-1) ?? Infinity
  if (state.milestone === undefined) {
    state.milestone = bracket
  } else if (bracket < state.milestone) {
    state.milestone = bracket
    announce(m().registration.milestone(spokenCountdown(remaining)))
  }
}

/** Once a second, on the server's second: countdown, clock, retry timers, "updated N s ago". */
function tick() {
  try {
    if (!page.state.me) renderLoginButton()
    else {
      renderRegistration()
      renderPendingLabels()
      renderRequestTimes()
      renderConnection()
      renderCoursesUpdated()
    }
  } finally {
    const now = serverNow()
    let delay = 1000 - (now % 1000) + 5
    const opensAt = page.state.registration.opensAt
    // Land on the opening itself, not up to a second after it.
    if (page.state.phase === 'before' && opensAt !== null && opensAt - now < delay) {
      delay = Math.max(0, opensAt - now + 1)
    }
    window.setTimeout(tick, delay)
  }
}

function onVisibility() {
  if (!page.state.me) return
  if (document.visibilityState === 'hidden') {
    pauseCourses()
    return
  }
  resumeCourses()
  watcher.nudge()
  // Timers sleep in a hidden tab, and the clock may have drifted: check the window again.
  if (page.state.phase !== 'open') void refreshMe()
}

boot()
