/* global document, window, sessionStorage, navigator */
// The student page: log in, count down to this student's opening, browse courses, fill the
// cart, ask for seats, watch each request live, and keep the timetable.

import { api, segment, setUnauthenticatedHandler } from './api.js'
import {
  formatCountdown,
  formatDateTime,
  formatTime,
  serverNow,
  spokenCountdown,
  syncClock,
} from './clock.js'
import { byId, h, setData, setText, syncChildren } from './dom.js'
import {
  errorText,
  formatMeetings,
  formatSeconds,
  normalizeSearch,
  reasonText,
  requestStatusText,
} from './text.js'
import { buildTimetable } from './timetable.js'
import { RequestWatcher } from './watcher.js'

/** The catalogue is cached for 1 s by the server; every 5–6.5 s is plenty and spreads load. */
const COURSES_EVERY_MS = 5000
const COURSES_JITTER_MS = 1500
const COURSES_MAX_BACKOFF_MS = 60_000
/** Automatic retries of one request after 503 or no answer, before the student decides. */
const AUTO_RETRY_LIMIT = 5
const DEFAULT_RETRY_SECONDS = 2
/** Told to the screen reader as the opening approaches (seconds to go). */
const MILESTONES = [3600, 600, 300, 60, 30, 10]
const LIVE = new Set(['checking', 'queued', 'waitlisted'])
const FINAL = new Set(['enrolled', 'rejected', 'unknown'])
const STUDENT_KEY = 'sugang.student'
const requestsKey = (studentId) => `sugang.requests.${studentId}`
const STUDENT_ID = /^[A-Za-z0-9_-]{1,16}$/
const REQUEST_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

const $ = {
  main: byId('main'),
  boot: byId('boot'),
  bootText: byId('boot-text'),
  account: byId('account'),
  studentInfo: byId('student-info'),
  logout: byId('logout-button'),
  loginView: byId('login-view'),
  loginNotice: byId('login-notice'),
  loginForm: byId('login-form'),
  loginStudentId: byId('login-student-id'),
  loginPassword: byId('login-password'),
  loginError: byId('login-error'),
  loginSubmit: byId('login-submit'),
  appView: byId('app-view'),
  registration: byId('registration-status'),
  registrationLabel: byId('registration-label'),
  countdown: byId('countdown'),
  registrationDetail: byId('registration-detail'),
  coursesUpdated: byId('courses-updated'),
  search: byId('course-search'),
  filterDay: byId('filter-day'),
  filterSeats: byId('filter-seats'),
  courseCount: byId('course-count'),
  coursesError: byId('courses-error'),
  courseList: byId('course-list'),
  cartSection: byId('cart-section'),
  cartTitle: byId('cart-title'),
  cartSummary: byId('cart-summary'),
  cartHint: byId('cart-hint'),
  cartList: byId('cart-list'),
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
  confirmDialog: byId('confirm-dialog'),
  confirmText: byId('confirm-text'),
  confirmTitle: byId('confirm-title'),
  confirmYes: byId('confirm-yes'),
}

function newState() {
  return {
    /** { studentId, name, year, maxCredits } once logged in */
    me: null,
    /** times in ms by the server's clock */
    registration: { known: false, open: false, opensAt: null, closesAt: null, opensAhead: false },
    /** 'unknown' | 'before' | 'open' | 'closed' */
    phase: 'unknown',
    announcedOpen: false,
    resyncedNearOpen: false,
    milestone: undefined,
    courses: new Map(),
    courseIds: [],
    coursesAt: 0,
    cart: [],
    cartBusy: new Set(),
    /** courseId → { tone, text }: what the last cart request said about the course */
    cartResults: new Map(),
    /** { kind: 'sending' | 'retrying' | 'blocked', until?, attempts } */
    cartPending: null,
    /** requestId → { requestId, courseId, status, position, reason, estimatedWaitSeconds, updatedAt } */
    requests: new Map(),
    /** courseId → the course's latest requestId */
    byCourse: new Map(),
    /** courseId → { kind: 'sending' | 'retrying' | 'blocked', until?, waitlist, attempts, viaCart? } */
    pending: new Map(),
    waitlistOffer: new Set(),
    /** courseId → { tone: 'error' | 'info', text } shown under the course */
    notes: new Map(),
    enrolled: new Set(),
    cancelling: new Set(),
    /** requestIds whose waitlist place is being given up */
    leaving: new Set(),
    timetable: null,
  }
}

let state = newState()
/** Bumped on every log in and log out: answers to an older session's calls are dropped. */
let session = 0
const timers = new Set()
let coursesTimer = null
let coursesInFlight = null
let coursesFailures = 0
let timetableTimer = null
let loginBusy = false
/** After a 429: until when, and for which student id (null: any, the limit is this browser's). */
let loginBlock = { until: 0, studentId: null }

const rows = new Map()
const cartRows = new Map()
const requestRows = new Map()
const enrolledRows = new Map()
/** element → its parts, for in-place updates */
const parts = new WeakMap()

const watcher = new RequestWatcher({
  onUpdate: (view) => trackRequest(view),
  onGone: (requestId) => requestGone(requestId),
  onConnection: () => renderConnection(),
})

// ---------------------------------------------------------------------------------------------
// Small helpers

/** setTimeout that does nothing if the session changed meanwhile; cleared on log out. */
function later(fn, ms) {
  const mine = session
  const timer = window.setTimeout(() => {
    timers.delete(timer)
    if (mine === session) fn()
  }, ms)
  timers.add(timer)
  return timer
}

function cancel(timer) {
  if (timer === null || timer === undefined) return
  window.clearTimeout(timer)
  timers.delete(timer)
}

function setDisabled(button, disabled) {
  const value = disabled ? 'true' : 'false'
  if (button.getAttribute('aria-disabled') !== value) button.setAttribute('aria-disabled', value)
}

/** The focused element was removed from the page (focus fell back to the body). */
const focusLost = () => !document.activeElement || document.activeElement === document.body

const isDisabled = (button) => button.getAttribute('aria-disabled') === 'true'

/**
 * Worth asking again by itself: 503 (with Retry-After), a gateway that gave up (502, 504), or no
 * answer at all. Asking again is safe: the server answers a live request with that request.
 */
const retryable = (error) => [0, 502, 503, 504].includes(error.status)

const secondsUntil = (ms) => Math.max(1, Math.ceil((ms - Date.now()) / 1000))

let announceQueue = []
let announceTimer = null

/** Says something to screen readers (one polite live region for the whole page). */
function announce(text) {
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

function titleOf(courseId) {
  return (
    state.courses.get(courseId)?.title ??
    state.timetable?.courses.find((c) => c.courseId === courseId)?.title ??
    courseId
  )
}

/** 을 or 를 after a word, by its last syllable. */
function objectParticle(word) {
  const code = String(word).trim().slice(-1).charCodeAt(0)
  if (code >= 0xac00 && code <= 0xd7a3) return (code - 0xac00) % 28 ? '을' : '를'
  return '을(를)'
}

function readJson(key) {
  try {
    const raw = sessionStorage.getItem(key)
    return raw ? JSON.parse(raw) : null
  } catch {
    return null
  }
}

function writeJson(key, value) {
  try {
    if (value === null) sessionStorage.removeItem(key)
    else sessionStorage.setItem(key, JSON.stringify(value))
  } catch {
    // Storage may be off (private mode): the page works, a reload just forgets the requests.
  }
}

const finite = (value) => (typeof value === 'number' && Number.isFinite(value) ? value : undefined)

// ---------------------------------------------------------------------------------------------
// Start, log in, log out

function boot() {
  setUnauthenticatedHandler(sessionEnded)
  $.loginForm.addEventListener('submit', (event) => void onLogin(event))
  $.loginStudentId.addEventListener('input', renderLoginButton)
  $.logout.addEventListener('click', () => void logout())
  $.search.addEventListener('input', () => applyFilters(true))
  $.filterDay.addEventListener('change', () => applyFilters(true))
  $.filterSeats.addEventListener('change', () => applyFilters(true))
  $.cartRequest.addEventListener('click', () => void requestCart())
  document.addEventListener('visibilitychange', onVisibility)
  window.addEventListener('online', () => {
    if (!state.me) return
    watcher.nudge()
    void refreshCourses()
    renderConnection()
  })
  window.addEventListener('offline', renderConnection)
  tick()
  void start()
}

async function start(fromLogin = false) {
  const mine = ++session
  try {
    await loadMe(true)
  } catch (error) {
    if (mine !== session) return
    if (error.status === 401) showLogin()
    else showBootError(error)
    return
  }
  if (mine !== session) return
  showApp(fromLogin)
  await Promise.all([refreshCourses(), loadCart(), refreshTimetable()])
  if (mine !== session) return
  await resumeRequests()
}

function showBootError(error) {
  const seconds = error.retryAfter ?? 5
  $.loginView.hidden = true
  $.appView.hidden = true
  $.boot.hidden = false
  setText($.bootText, `${errorText(error)} ${formatSeconds(seconds)} 후 다시 연결합니다.`)
  later(() => void start(), seconds * 1000)
}

function showLogin(notice = '') {
  $.boot.hidden = true
  $.appView.hidden = true
  $.account.hidden = true
  $.loginView.hidden = false
  document.title = '로그인 · 수강신청'
  setText($.loginNotice, notice)
  const remembered = readJson(STUDENT_KEY)
  if (!$.loginStudentId.value && typeof remembered?.studentId === 'string') {
    $.loginStudentId.value = remembered.studentId
  }
  renderLoginButton()
  ;($.loginStudentId.value ? $.loginPassword : $.loginStudentId).focus()
}

function showApp(fromLogin) {
  $.boot.hidden = true
  $.loginView.hidden = true
  $.appView.hidden = false
  $.account.hidden = false
  document.title = '수강신청'
  renderHeader()
  renderRegistration()
  renderCart()
  renderRequests()
  renderConnection()
  if (fromLogin) $.main.focus()
}

function loginError(text, field = null) {
  setText($.loginError, text)
  for (const input of [$.loginStudentId, $.loginPassword]) {
    if (input === field) input.setAttribute('aria-invalid', 'true')
    else input.removeAttribute('aria-invalid')
  }
  if (field) field.focus()
}

function loginBlocked() {
  if (loginBlock.until <= Date.now()) return false
  return loginBlock.studentId === null || loginBlock.studentId === $.loginStudentId.value.trim()
}

function renderLoginButton() {
  let label = '로그인'
  if (loginBusy) label = '로그인 중…'
  else if (loginBlocked()) label = `${formatSeconds(secondsUntil(loginBlock.until))} 후 다시 시도`
  setText($.loginSubmit, label)
  setDisabled($.loginSubmit, loginBusy || loginBlocked())
}

async function onLogin(event) {
  event.preventDefault()
  if (loginBusy || loginBlocked()) return
  const studentId = $.loginStudentId.value.trim()
  const password = $.loginPassword.value
  if (!studentId) return loginError('학번을 입력하세요.', $.loginStudentId)
  if (!STUDENT_ID.test(studentId)) {
    return loginError('학번은 영문자와 숫자로 16자까지입니다.', $.loginStudentId)
  }
  if (!password) return loginError('비밀번호를 입력하세요.', $.loginPassword)
  loginError('')
  loginBusy = true
  renderLoginButton()
  try {
    const { data } = await api('POST', '/api/v1/auth/login', {
      body: { studentId, password },
      quiet401: true,
    })
    $.loginPassword.value = ''
    writeJson(STUDENT_KEY, { studentId: data?.studentId ?? studentId, name: data?.name ?? '' })
    loginBusy = false
    setText($.loginNotice, '')
    await start(true)
  } catch (error) {
    if (error.status === 429) {
      const seconds = error.retryAfter ?? 60
      // A locked account is that student id's; the other limits are this browser's or network's.
      loginBlock = {
        until: Date.now() + seconds * 1000,
        studentId: error.code === 'ACCOUNT_LOCKED' ? studentId : null,
      }
      loginError(`${errorText(error)} (${formatSeconds(seconds)} 후 다시 시도할 수 있습니다.)`)
    } else if (error.code === 'INVALID_CREDENTIALS') {
      $.loginPassword.value = ''
      loginError(errorText(error), $.loginPassword)
    } else if (error.code === 'VALIDATION_FAILED') {
      loginError('학번 또는 비밀번호의 형식이 올바르지 않습니다.', $.loginStudentId)
    } else {
      loginError(errorText(error))
    }
  } finally {
    loginBusy = false
    renderLoginButton()
  }
}

/** Any API call answered 401: the session ended (expired, or logged out elsewhere). */
function sessionEnded() {
  if (!state.me) return
  teardown()
  showLogin('로그인이 만료되었습니다. 다시 로그인하세요.')
}

async function logout() {
  if (isDisabled($.logout)) return
  setDisabled($.logout, true)
  const studentId = state.me?.studentId
  let notice = '로그아웃했습니다.'
  try {
    await api('POST', '/api/v1/auth/logout', { quiet401: true })
  } catch {
    notice = '서버에 로그아웃을 알리지 못했습니다. 공용 컴퓨터라면 브라우저를 모두 닫으세요.'
  }
  if (studentId) writeJson(requestsKey(studentId), null)
  writeJson(STUDENT_KEY, null)
  teardown()
  setDisabled($.logout, false)
  $.loginStudentId.value = ''
  showLogin(notice)
}

/** Forgets everything of the session: timers, the watcher, the lists. */
function teardown() {
  session += 1
  watcher.stop()
  for (const timer of timers) window.clearTimeout(timer)
  timers.clear()
  coursesTimer = null
  coursesInFlight = null
  coursesFailures = 0
  timetableTimer = null
  state = newState()
  for (const map of [rows, cartRows, requestRows, enrolledRows]) {
    for (const element of map.values()) element.remove()
    map.clear()
  }
  $.timetableGrid.replaceChildren()
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
  $.search.value = ''
  $.filterDay.value = ''
  $.filterSeats.checked = false
}

// ---------------------------------------------------------------------------------------------
// Who I am, and the registration window

/** GET /api/v1/me: who is logged in, and their own registration window. */
async function loadMe(quiet401 = false) {
  const { data, sentAt, receivedAt } = await api('GET', '/api/v1/me', { quiet401 })
  const registration = data?.registration ?? {}
  syncClock(registration.serverTime, sentAt, receivedAt)
  const time = (value) => {
    const ms = typeof value === 'string' ? Date.parse(value) : NaN
    return Number.isNaN(ms) ? null : ms
  }
  const serverTime = time(registration.serverTime) ?? serverNow()
  const opensAt = time(registration.opensAt)
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
  }
  writeJson(STUDENT_KEY, { studentId: state.me.studentId, name: state.me.name })
}

/** Asks /me again (the opening came, the tab woke up, a 403): corrects clock and window. */
async function refreshMe() {
  const mine = session
  try {
    await loadMe()
  } catch {
    return
  }
  if (mine !== session) return
  renderHeader()
  renderRegistration()
}

function renderHeader() {
  const me = state.me
  if (!me) return
  const bits = [me.name ? `${me.name} (${me.studentId})` : me.studentId]
  if (me.year) bits.push(`${me.year}학년`)
  if (me.maxCredits) bits.push(`최대 ${me.maxCredits}학점`)
  setText($.studentInfo, bits.filter(Boolean).join(' · '))
}

function currentPhase(now) {
  const r = state.registration
  if (!r.known) return 'unknown'
  if (r.closesAt !== null && now >= r.closesAt) return 'closed'
  if (r.open) return 'open'
  if (r.opensAt !== null && now < r.opensAt) return 'before'
  if (r.opensAhead) return 'open'
  return 'closed'
}

/** May the student ask for seats now? 'unknown': let the server decide (it answers 403). */
const mayRequest = () => state.phase === 'open' || state.phase === 'unknown'

function renderRegistration() {
  if (!state.me) return
  const now = serverNow()
  const r = state.registration
  const previous = state.phase
  const phase = currentPhase(now)
  state.phase = phase
  setData($.registration, 'state', phase)

  if (phase === 'before') {
    const remaining = r.opensAt - now
    const who = state.me.year ? `${state.me.year}학년 ` : ''
    setText($.registrationLabel, `${who}수강신청 시작까지`)
    $.countdown.hidden = false
    setText($.countdown, formatCountdown(remaining))
    setData($.countdown, 'remainingSeconds', Math.max(0, Math.ceil(remaining / 1000)))
    const closes = r.closesAt !== null ? ` · 마감 ${formatDateTime(r.closesAt)}` : ''
    setText($.registrationDetail, `시작 ${formatDateTime(r.opensAt)}${closes}`)
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
      setText($.registrationLabel, '수강신청 진행 중')
      setText(
        $.registrationDetail,
        r.closesAt !== null ? `마감 ${formatDateTime(r.closesAt)}` : '신청 버튼을 눌러 신청하세요.',
      )
    } else if (phase === 'closed') {
      setText($.registrationLabel, '지금은 수강신청 기간이 아닙니다')
      setText(
        $.registrationDetail,
        r.closesAt !== null && now >= r.closesAt
          ? `${formatDateTime(r.closesAt)}에 마감되었습니다.`
          : '장바구니는 미리 채워 둘 수 있습니다.',
      )
    } else {
      setText($.registrationLabel, '수강신청')
      setText($.registrationDetail, '신청 기간을 확인하지 못했습니다. 신청하면 서버가 확인합니다.')
    }
  }

  if (previous !== phase) {
    if (previous === 'before' && phase === 'open') {
      if (!state.announcedOpen) announce('수강신청이 시작되었습니다.')
      state.announcedOpen = true
      // Confirm with the server, spread over a second so not every page asks at once.
      later(() => void refreshMe(), 200 + Math.random() * 1000)
    } else if (previous === 'open' && phase === 'closed') {
      announce('수강신청이 마감되었습니다.')
      later(() => void refreshMe(), 500)
    }
    updateAllCourses()
    renderCartButton()
  }
}

function announceMilestone(remaining) {
  const seconds = Math.ceil(remaining / 1000)
  const bracket = MILESTONES.filter((m) => seconds <= m).at(-1) ?? Infinity
  if (state.milestone === undefined) {
    state.milestone = bracket
  } else if (bracket < state.milestone) {
    state.milestone = bracket
    announce(`수강신청 시작까지 ${spokenCountdown(remaining)} 남았습니다.`)
  }
}

/** Once a second, on the server's second: countdown, retry timers, "updated N s ago". */
function tick() {
  try {
    if (!state.me) renderLoginButton()
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
    const opensAt = state.registration.opensAt
    // Land on the opening itself, not up to a second after it.
    if (state.phase === 'before' && opensAt !== null && opensAt - now < delay) {
      delay = Math.max(0, opensAt - now + 1)
    }
    window.setTimeout(tick, delay)
  }
}

function onVisibility() {
  if (!state.me) return
  if (document.visibilityState === 'hidden') {
    cancel(coursesTimer)
    coursesTimer = null
    return
  }
  const age = Date.now() - state.coursesAt
  if (age >= COURSES_EVERY_MS) void refreshCourses()
  else if (!coursesInFlight) {
    cancel(coursesTimer)
    coursesTimer = later(() => void refreshCourses(), COURSES_EVERY_MS - age)
  }
  watcher.nudge()
  // Timers sleep in a hidden tab, and the clock may have drifted: check the window again.
  if (state.phase !== 'open') void refreshMe()
}

// ---------------------------------------------------------------------------------------------
// Courses

function refreshCourses() {
  if (coursesInFlight) return coursesInFlight
  cancel(coursesTimer)
  coursesTimer = null
  const mine = session
  coursesInFlight = (async () => {
    let delay = COURSES_EVERY_MS + Math.random() * COURSES_JITTER_MS
    try {
      const { data } = await api('GET', '/api/v1/courses')
      if (mine !== session) return
      applyCourses(Array.isArray(data?.courses) ? data.courses : [])
      coursesFailures = 0
      state.coursesAt = Date.now()
      setText($.coursesError, '')
    } catch (error) {
      if (mine !== session || error.status === 401) return
      coursesFailures += 1
      delay =
        error.retryAfter !== null
          ? Math.max(error.retryAfter * 1000, COURSES_EVERY_MS)
          : Math.min(COURSES_EVERY_MS * 2 ** coursesFailures, COURSES_MAX_BACKOFF_MS)
      const what = state.coursesAt
        ? '좌석 정보를 갱신하지 못했습니다.'
        : '과목 목록을 불러오지 못했습니다.'
      setText($.coursesError, `${what} ${errorText(error)}`)
    } finally {
      if (mine === session) coursesInFlight = null
    }
    if (mine !== session) return
    renderCoursesUpdated()
    // Paused while the tab is hidden; onVisibility starts it again.
    if (document.visibilityState === 'visible') {
      coursesTimer = later(() => void refreshCourses(), delay)
    }
  })()
  return coursesInFlight
}

function renderCoursesUpdated() {
  if (!state.coursesAt) return setText($.coursesUpdated, '')
  const ago = Math.max(0, Math.round((Date.now() - state.coursesAt) / 1000))
  setText($.coursesUpdated, `좌석 ${formatTime(state.coursesAt)} 기준 (${ago}초 전)`)
}

function applyCourses(list) {
  const next = new Map()
  for (const course of list) {
    if (course && typeof course.id === 'string') next.set(course.id, course)
  }
  state.courses = next
  state.courseIds = [...next.keys()]
  for (const id of state.waitlistOffer) {
    if ((next.get(id)?.seatsLeft ?? 0) > 0) state.waitlistOffer.delete(id)
  }
  syncChildren($.courseList, state.courseIds, rows, createCourseRow)
  applyFilters(false)
  updateAllCourses()
  renderRequests()
}

function createCourseRow(id) {
  const p = {
    title: h('h3', { class: 'course-title' }),
    code: h('span', { class: 'course-code' }),
    professor: h('span', { class: 'course-professor' }),
    credits: h('span', { class: 'course-credits' }),
    meetings: h('p', { class: 'course-meetings', dataset: { testid: 'course-meetings' } }),
    seats: h('p', { class: 'seats', dataset: { testid: 'course-seats' } }),
    cartLabel: h('span'),
    cartName: h('span', { class: 'sr-only' }),
    requestLabel: h('span'),
    requestName: h('span', { class: 'sr-only' }),
    note: h('p', { class: 'note', dataset: { testid: 'course-note' } }),
  }
  p.cartButton = h(
    'button',
    {
      type: 'button',
      class: 'button secondary',
      dataset: { testid: 'cart-toggle', courseId: id },
      onclick: () => void toggleCart(id),
    },
    p.cartName,
    p.cartLabel,
  )
  p.requestButton = h(
    'button',
    {
      type: 'button',
      class: 'button primary',
      dataset: { testid: 'request-button', courseId: id },
      onclick: () => void requestSeat(id),
    },
    p.requestName,
    p.requestLabel,
  )
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

function updateAllCourses() {
  for (const id of state.courseIds) updateCourseRow(id)
  for (const id of cartRows.keys()) updateCartRow(id)
}

/** A course's row and its cart item, after anything about the course changed. */
function updateCourse(id) {
  updateCourseRow(id)
  updateCartRow(id)
  renderCartButton()
}

function updateCourseRow(id) {
  const row = rows.get(id)
  const course = state.courses.get(id)
  if (!row || !course) return
  const p = parts.get(row)
  setText(p.title, course.title)
  setText(p.code, course.id)
  setText(p.professor, course.professor)
  setText(p.credits, `${course.credits}학점`)
  setText(p.meetings, formatMeetings(course.meetings))
  const left = finite(course.seatsLeft) ?? 0
  setText(
    p.seats,
    left > 0 ? `여석 ${left} / 정원 ${course.capacity}` : `여석 없음 (정원 ${course.capacity})`,
  )
  p.seats.classList.toggle('full', left <= 0)
  setData(row, 'seatsLeft', left)

  const inCart = state.cart.some((item) => item.courseId === id)
  const cartBusy = state.cartBusy.has(id)
  setText(p.cartLabel, cartBusy ? '처리 중…' : inCart ? '빼기' : '담기')
  setText(p.cartName, `${course.title} 장바구니에 `)
  setData(p.cartButton, 'inCart', inCart)
  setDisabled(p.cartButton, cartBusy)

  const button = buttonState(id)
  setText(p.requestLabel, button.label)
  setText(p.requestName, `${course.title} `)
  setData(p.requestButton, 'state', button.state)
  setDisabled(p.requestButton, button.disabled)
  p.requestButton.classList.toggle('waitlist', button.state === 'waitlist')

  const note = state.notes.get(id)
  setText(p.note, note?.text ?? '')
  p.note.classList.toggle('error', note?.tone === 'error')
}

function matches(course, query, day, seatsOnly) {
  if (seatsOnly && !((finite(course.seatsLeft) ?? 0) > 0)) return false
  if (day && !(Array.isArray(course.meetings) && course.meetings.some((m) => m.day === day))) {
    return false
  }
  if (!query) return true
  return [course.title, course.professor, course.id].some((v) => normalizeSearch(v).includes(query))
}

let countAnnounceTimer = null

function applyFilters(userAction) {
  const query = normalizeSearch($.search.value)
  const day = $.filterDay.value
  const seatsOnly = $.filterSeats.checked
  let shown = 0
  for (const id of state.courseIds) {
    const row = rows.get(id)
    // A row keeps its place while it holds the focus, so keyboard users are not thrown out.
    const visible =
      matches(state.courses.get(id), query, day, seatsOnly) || row.contains(document.activeElement)
    row.hidden = !visible
    if (visible) shown += 1
  }
  const total = state.courseIds.length
  let text = ''
  if (total > 0) {
    if (shown === 0) text = '조건에 맞는 과목이 없습니다.'
    else if (shown === total) text = `전체 ${total}개 과목`
    else text = `${total}개 중 ${shown}개 과목`
  }
  setText($.courseCount, text)
  if (userAction) {
    window.clearTimeout(countAnnounceTimer)
    countAnnounceTimer = window.setTimeout(() => announce(text), 600)
  }
}

// ---------------------------------------------------------------------------------------------
// Asking for a seat

/** What a course's request button says and whether it may be pressed. */
function buttonState(id) {
  const pending = state.pending.get(id)
  if (pending?.kind === 'sending') return { label: '신청 중…', disabled: true, state: 'sending' }
  if (pending?.kind === 'retrying') {
    const s = secondsUntil(pending.until)
    return { label: `${s}초 후 자동 재시도`, disabled: true, state: 'retrying' }
  }
  if (pending?.kind === 'blocked') {
    const s = secondsUntil(pending.until)
    return { label: `${s}초 후 다시 시도`, disabled: true, state: 'blocked' }
  }
  const view = currentRequest(id)
  switch (view?.status) {
    case 'checking':
      return { label: '확인 중…', disabled: true, state: 'checking' }
    case 'queued':
      return {
        label: view.position ? `대기 중 ${view.position}번째` : '대기 중',
        disabled: true,
        state: 'queued',
      }
    case 'waitlisted':
      return {
        label: view.position ? `대기자 ${view.position}번` : '대기자 명단',
        disabled: true,
        state: 'waitlisted',
      }
  }
  if (state.enrolled.has(id) || view?.status === 'enrolled') {
    return { label: '신청 완료', disabled: true, state: 'enrolled' }
  }
  if (state.phase === 'before') return { label: '신청', disabled: true, state: 'not-open' }
  if (state.phase === 'closed') return { label: '신청', disabled: true, state: 'closed' }
  const course = state.courses.get(id)
  if (state.waitlistOffer.has(id) || (course && (finite(course.seatsLeft) ?? 1) <= 0)) {
    return { label: '대기 신청', disabled: false, state: 'waitlist', waitlist: true }
  }
  return { label: '신청', disabled: false, state: 'ready' }
}

function currentRequest(courseId) {
  const requestId = state.byCourse.get(courseId)
  return requestId ? state.requests.get(requestId) : undefined
}

function note(courseId, tone, text) {
  state.notes.set(courseId, { tone, text })
  announce(`${titleOf(courseId)}: ${text}`)
}

/** POST /courses/:id/enrollment-requests, once per press; retried by itself after a 503. */
async function requestSeat(id, auto = false) {
  const pending = state.pending.get(id)
  const button = buttonState(id)
  if (auto ? pending?.kind !== 'retrying' : button.disabled) return
  const waitlist = auto ? pending.waitlist : button.waitlist === true
  const attempts = auto ? pending.attempts : 0
  const mine = session
  state.pending.set(id, { kind: 'sending', waitlist, attempts })
  state.notes.delete(id)
  state.cartResults.delete(id)
  updateCourse(id)
  try {
    const { status, data } = await api(
      'POST',
      `/api/v1/courses/${segment(id)}/enrollment-requests`,
      {
        body: waitlist ? { waitlist: true } : {},
      },
    )
    if (mine !== session) return
    state.pending.delete(id)
    state.waitlistOffer.delete(id)
    const view = trackRequest({ ...data, courseId: data?.courseId ?? id })
    const what = status === 200 ? '이미 접수된 신청입니다.' : '신청이 접수되었습니다.'
    announce(`${titleOf(id)}: ${what} ${view ? requestStatusText(view) : ''}`)
  } catch (error) {
    if (mine !== session) return
    state.pending.delete(id)
    seatRefused(id, error, waitlist, attempts)
  }
  updateCourse(id)
}

function closedText(error) {
  const opensAt = typeof error.body?.opensAt === 'string' ? Date.parse(error.body.opensAt) : NaN
  return Number.isNaN(opensAt)
    ? errorText(error)
    : `아직 신청 시간이 아닙니다. ${formatDateTime(opensAt)}에 시작됩니다.`
}

function seatRefused(id, error, waitlist, attempts) {
  if (error.status === 401) return
  switch (error.code) {
    case 'COURSE_FULL':
      state.waitlistOffer.add(id)
      return note(id, 'info', '정원이 찼습니다. ‘대기 신청’을 누르면 대기자 명단에 오릅니다.')
    case 'ALREADY_ENROLLED':
      state.enrolled.add(id)
      scheduleTimetable()
      return note(id, 'info', errorText(error))
    case 'REGISTRATION_CLOSED':
      void refreshMe()
      return note(id, 'error', closedText(error))
  }
  if (error.status === 429) {
    const seconds = Math.max(1, error.retryAfter ?? 5)
    state.pending.set(id, { kind: 'blocked', until: Date.now() + seconds * 1000 })
    later(() => {
      if (state.pending.get(id)?.kind !== 'blocked') return
      state.pending.delete(id)
      state.notes.delete(id)
      updateCourse(id)
    }, seconds * 1000)
    return note(id, 'error', `요청이 너무 잦습니다. ${formatSeconds(seconds)} 후 다시 누르세요.`)
  }
  if (retryable(error)) {
    if (attempts >= AUTO_RETRY_LIMIT) {
      return note(
        id,
        'error',
        `${errorText(error)} 자동 재시도를 멈췄습니다. 다시 눌러 신청하세요.`,
      )
    }
    const seconds = Math.max(
      1,
      error.retryAfter ?? Math.min(DEFAULT_RETRY_SECONDS * 2 ** attempts, 30),
    )
    state.pending.set(id, {
      kind: 'retrying',
      until: Date.now() + seconds * 1000,
      waitlist,
      attempts: attempts + 1,
    })
    later(() => void requestSeat(id, true), seconds * 1000)
    const why = error.status === 0 ? '서버에 연결하지 못했습니다.' : '서버가 혼잡합니다.'
    return note(id, 'info', `${why} ${formatSeconds(seconds)} 후 자동으로 다시 신청합니다.`)
  }
  note(id, 'error', errorText(error))
}

/** Labels that count down (automatic retry, Retry-After) need a refresh every second. */
function renderPendingLabels() {
  for (const [id, pending] of state.pending) {
    if (pending.kind === 'retrying' || pending.kind === 'blocked') updateCourse(id)
  }
  if (state.cartPending?.until) renderCartButton()
}

// ---------------------------------------------------------------------------------------------
// Live requests

/** Takes what the server said about a request (enqueue answer, stream, poll). */
function trackRequest(incoming) {
  if (!incoming || typeof incoming.requestId !== 'string') return undefined
  const { requestId } = incoming
  const previous = state.requests.get(requestId)
  const courseId = typeof incoming.courseId === 'string' ? incoming.courseId : previous?.courseId
  if (!courseId) return undefined
  // A decided request stays decided, whatever a late message says.
  if (previous && FINAL.has(previous.status) && !FINAL.has(incoming.status)) return previous
  const view = {
    requestId,
    courseId,
    status: String(incoming.status),
    position: finite(incoming.position),
    reason: typeof incoming.reason === 'string' ? incoming.reason : undefined,
    estimatedWaitSeconds: finite(incoming.estimatedWaitSeconds),
    updatedAt: Date.now(),
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
    announce(`${titleOf(courseId)}: ${requestStatusText(view)}`)
  }
  if (changed && view.status === 'enrolled') {
    state.enrolled.add(courseId)
    scheduleTimetable()
  }
  if (view.status === 'rejected' && changed && view.reason === 'LEFT_WAITLIST') {
    state.notes.set(courseId, { tone: 'info', text: '대기를 취소했습니다.' })
  } else if (view.status === 'rejected' && changed) {
    if (view.reason === 'COURSE_FULL') state.waitlistOffer.add(courseId)
    if (view.reason === 'ALREADY_ENROLLED') scheduleTimetable()
    // Said under the course too (the status list already announced it).
    const hint = view.reason === 'COURSE_FULL' ? ' ‘대기 신청’을 할 수 있습니다.' : ''
    state.notes.set(courseId, {
      tone: 'error',
      text: `신청되지 않았습니다 — ${reasonText(view.reason)}.${hint}`,
    })
  }
  saveRequests()
  renderRequests()
  updateCourse(courseId)
  return view
}

/** The server no longer knows the request (decided long ago): say so, check the timetable. */
function requestGone(requestId) {
  const view = state.requests.get(requestId)
  if (!view) return
  state.requests.set(requestId, { ...view, status: 'unknown', updatedAt: Date.now() })
  saveRequests()
  renderRequests()
  updateCourse(view.courseId)
  scheduleTimetable()
}

function saveRequests() {
  if (!state.me?.studentId) return
  const live = [...state.requests.values()]
    .filter((v) => LIVE.has(v.status))
    .map(({ requestId, courseId }) => ({ requestId, courseId }))
  writeJson(requestsKey(state.me.studentId), live)
}

/** After a reload: the requests this tab was watching, asked for again and watched. */
async function resumeRequests() {
  const stored = readJson(requestsKey(state.me.studentId))
  if (!Array.isArray(stored)) return
  const valid = stored.filter(
    (s) => REQUEST_ID.test(String(s?.requestId)) && STUDENT_ID.test(String(s?.courseId)),
  )
  for (const { requestId, courseId } of valid) {
    if (!state.requests.has(requestId)) trackRequest({ requestId, courseId, status: 'checking' })
  }
  const mine = session
  for (const { requestId } of valid) {
    try {
      const { data } = await api('GET', `/api/v1/enrollment-requests/${segment(requestId)}`)
      if (mine !== session) return
      trackRequest(data)
    } catch (error) {
      if (mine !== session || error.status === 401) return
      if (error.status === 404) requestGone(requestId)
      else break // the watcher keeps trying
    }
  }
}

function createRequestRow(requestId) {
  const p = {
    title: h('span', { class: 'request-title' }),
    code: h('span', { class: 'course-code' }),
    text: h('p', { class: 'request-text', dataset: { testid: 'request-status-text' } }),
    time: h('time', { class: 'request-time', dataset: { testid: 'request-updated' } }),
    leaveName: h('span', { class: 'sr-only' }),
    leaveLabel: h('span'),
  }
  p.leave = h(
    'button',
    {
      type: 'button',
      class: 'button secondary request-leave',
      hidden: true,
      dataset: { testid: 'leave-waitlist', requestId },
      onclick: () => void leaveWaitlist(requestId, p.leave),
    },
    p.leaveName,
    p.leaveLabel,
  )
  const row = h(
    'li',
    { class: 'request', dataset: { testid: 'request-status', requestId } },
    h('p', { class: 'request-course' }, p.title, p.code),
    p.text,
    p.time,
    p.leave,
  )
  parts.set(row, p)
  return row
}

function renderRequests() {
  const ids = [...state.requests.keys()].reverse()
  syncChildren($.requestList, ids, requestRows, createRequestRow)
  for (const requestId of ids) updateRequestRow(requestId)
  $.requestsEmpty.hidden = ids.length > 0
}

function updateRequestRow(requestId) {
  const row = requestRows.get(requestId)
  const view = state.requests.get(requestId)
  if (!row || !view) return
  const p = parts.get(row)
  setData(row, 'status', view.status)
  setData(row, 'courseId', view.courseId)
  setData(row, 'position', view.position ?? '')
  row.className = `request status-${view.status}`
  setText(p.title, titleOf(view.courseId))
  setText(p.code, view.courseId)
  setText(p.text, requestStatusText(view))
  updateRequestTime(p.time, view)
  p.leave.hidden = view.status !== 'waitlisted'
  const leaving = state.leaving.has(requestId)
  setText(p.leaveName, `${titleOf(view.courseId)} `)
  setText(p.leaveLabel, leaving ? '취소 중…' : '대기 취소')
  setDisabled(p.leave, leaving)
}

/**
 * When the status was last heard. A live request on an open stream is current (the server
 * sends every change), so it says so; otherwise it says how old the answer is.
 */
function updateRequestTime(element, view) {
  const at = new Date(view.updatedAt)
  if (element.dateTime !== at.toISOString()) element.dateTime = at.toISOString()
  let text = `${formatTime(view.updatedAt)} 확인`
  if (LIVE.has(view.status)) {
    if (watcher.connection.mode === 'live' && view.status !== 'checking') {
      text = `실시간 · ${formatTime(view.updatedAt)}에 마지막 변경`
    } else {
      const ago = Math.max(0, Math.round((Date.now() - view.updatedAt) / 1000))
      text = `마지막 확인 ${formatTime(view.updatedAt)} (${ago}초 전)`
    }
  }
  setText(element, text)
}

function renderRequestTimes() {
  for (const [requestId, row] of requestRows) {
    const view = state.requests.get(requestId)
    if (view && LIVE.has(view.status)) updateRequestTime(parts.get(row).time, view)
  }
}

const CONNECTION_TEXT = {
  idle: () => '실시간 확인: 기다리는 신청 없음',
  connecting: () => '실시간 연결 중…',
  live: () => '실시간 연결됨',
  reconnecting: () => '연결이 끊겨 다시 연결하는 중 (그동안 직접 확인)',
  polling: (s) => (s ? `주기적으로 확인 중 · ${s}초 후 다시 확인` : '주기적으로 확인 중'),
  paused: (s) => `요청이 많아 잠시 멈춤 · ${s ?? 1}초 후 다시 확인`,
  offline: (s) => (s ? `연결 끊김 · ${s}초 후 다시 시도` : '연결 끊김'),
}

function renderConnection() {
  const connection = watcher.connection
  let mode = connection.mode
  if (typeof navigator.onLine === 'boolean' && !navigator.onLine && mode !== 'idle')
    mode = 'offline'
  const seconds =
    connection.nextAt !== undefined
      ? Math.max(0, Math.ceil((connection.nextAt - Date.now()) / 1000))
      : null
  setData($.connection, 'mode', mode)
  setText($.connection, (CONNECTION_TEXT[mode] ?? CONNECTION_TEXT.idle)(seconds))
}

// ---------------------------------------------------------------------------------------------
// Cart

async function loadCart() {
  const mine = session
  try {
    const { data } = await api('GET', '/api/v1/me/cart')
    if (mine !== session) return
    state.cart = (Array.isArray(data?.items) ? data.items : []).filter(
      (item) => typeof item?.courseId === 'string',
    )
  } catch (error) {
    if (mine !== session || error.status === 401) return
    setText($.cartMessage, `장바구니를 불러오지 못했습니다. ${errorText(error)}`)
    later(() => void loadCart(), Math.max(5, error.retryAfter ?? 5) * 1000)
  }
  renderCart()
  updateAllCourses()
}

async function toggleCart(id, focusAfter = null) {
  if (state.cartBusy.has(id)) return
  const inCart = state.cart.some((item) => item.courseId === id)
  const mine = session
  state.cartBusy.add(id)
  updateCourse(id)
  try {
    await api(inCart ? 'DELETE' : 'PUT', `/api/v1/me/cart/${segment(id)}`)
    if (mine !== session) return
    if (inCart) state.cart = state.cart.filter((item) => item.courseId !== id)
    else state.cart.push({ courseId: id, addedAt: new Date().toISOString() })
    state.cartResults.delete(id)
    const title = titleOf(id)
    announce(
      `${title}${objectParticle(title)} 장바구니${inCart ? '에서 뺐습니다.' : '에 담았습니다.'}`,
    )
  } catch (error) {
    if (mine !== session || error.status === 401) return
    if (inCart && error.code === 'NOT_IN_CART') {
      state.cart = state.cart.filter((item) => item.courseId !== id)
    } else {
      const text = `장바구니: ${errorText(error)}`
      setText($.cartMessage, text)
      announce(text)
    }
  } finally {
    if (mine === session) {
      state.cartBusy.delete(id)
      renderCart()
      updateCourse(id)
      if (focusAfter && focusLost()) focusAfter().focus()
    }
  }
}

function createCartRow(id) {
  const p = {
    title: h('span', { class: 'cart-title' }),
    meta: h('span', { class: 'cart-meta' }),
    status: h('span', { class: 'cart-status', dataset: { testid: 'cart-item-status' } }),
    result: h('p', { class: 'note', dataset: { testid: 'cart-item-result' } }),
    name: h('span', { class: 'sr-only' }),
  }
  p.remove = h(
    'button',
    {
      type: 'button',
      class: 'button secondary small',
      dataset: { testid: 'cart-remove', courseId: id },
      onclick: () => {
        // Where the focus goes when this item disappears: the item that takes its place, the
        // one before it, or the heading.
        const index = state.cart.findIndex((item) => item.courseId === id)
        const focusAfter = () => {
          const ids = state.cart.map((item) => item.courseId)
          const next = cartRows.get(ids[Math.min(index, ids.length - 1)])
          return next ? parts.get(next).remove : $.cartTitle
        }
        void toggleCart(id, focusAfter)
      },
    },
    p.name,
    '빼기',
  )
  const row = h(
    'li',
    { class: 'cart-item', dataset: { testid: 'cart-item', courseId: id } },
    h('div', { class: 'cart-text' }, p.title, p.meta, p.status),
    p.remove,
    p.result,
  )
  parts.set(row, p)
  return row
}

function updateCartRow(id) {
  const row = cartRows.get(id)
  if (!row) return
  const p = parts.get(row)
  const course = state.courses.get(id)
  const title = titleOf(id)
  setText(p.title, title)
  setText(
    p.meta,
    course ? `${id} · ${course.credits}학점 · ${formatMeetings(course.meetings)}` : id,
  )
  setText(p.name, `${title} 장바구니에서 `)
  const button = buttonState(id)
  const shows = ['sending', 'retrying', 'checking', 'queued', 'waitlisted', 'enrolled']
  setText(p.status, shows.includes(button.state) ? button.label : '')
  setData(row, 'state', button.state)
  const result = state.cartResults.get(id)
  setText(p.result, result?.text ?? '')
  p.result.classList.toggle('error', result?.tone === 'error')
  setDisabled(p.remove, state.cartBusy.has(id))
}

function renderCart() {
  setText($.cartHint, '신청 시작 전에 담아 두고, 시작되면 담은 순서대로 한 번에 신청합니다.')
  const ids = state.cart.map((item) => item.courseId)
  syncChildren($.cartList, ids, cartRows, createCartRow)
  for (const id of ids) updateCartRow(id)
  const credits = ids.reduce((sum, id) => sum + (finite(state.courses.get(id)?.credits) ?? 0), 0)
  setText($.cartSummary, ids.length ? `${ids.length}과목 · ${credits}학점` : '비어 있음')
  renderCartButton()
}

function renderCartButton() {
  const pending = state.cartPending
  const count = state.cart.length
  let label = count ? `장바구니 전체 신청 (${count}과목)` : '장바구니 전체 신청'
  let disabled = false
  let buttonStateName = 'ready'
  if (pending?.kind === 'sending') {
    label = '장바구니 신청 중…'
    disabled = true
    buttonStateName = 'sending'
  } else if (pending?.kind === 'retrying') {
    label = `${secondsUntil(pending.until)}초 후 자동 재시도`
    disabled = true
    buttonStateName = 'retrying'
  } else if (pending?.kind === 'blocked') {
    label = `${secondsUntil(pending.until)}초 후 다시 시도`
    disabled = true
    buttonStateName = 'blocked'
  } else if (count === 0) {
    disabled = true
    buttonStateName = 'empty'
  } else if (!mayRequest()) {
    disabled = true
    buttonStateName = state.phase === 'before' ? 'not-open' : 'closed'
  }
  setText($.cartRequest, label)
  setDisabled($.cartRequest, disabled)
  setData($.cartRequest, 'state', buttonStateName)
}

/** POST /me/cart/enrollment-requests: the whole cart, in its order, in one press. */
async function requestCart(auto = false) {
  const pending = state.cartPending
  if (auto ? pending?.kind !== 'retrying' : isDisabled($.cartRequest)) return
  const attempts = auto ? pending.attempts : 0
  const mine = session
  state.cartPending = { kind: 'sending', attempts }
  for (const { courseId } of state.cart) {
    state.cartResults.delete(courseId)
    if (!state.pending.has(courseId)) {
      state.pending.set(courseId, { kind: 'sending', attempts: 0, viaCart: true })
    }
  }
  setText($.cartMessage, '장바구니 과목을 신청하는 중…')
  renderCart()
  updateAllCourses()
  let message
  try {
    const { data } = await api('POST', '/api/v1/me/cart/enrollment-requests', { body: {} })
    if (mine !== session) return
    state.cartPending = null
    clearCartSending()
    let accepted = 0
    let refused = 0
    for (const result of Array.isArray(data?.results) ? data.results : []) {
      if (!result || typeof result.courseId !== 'string') continue
      const { courseId } = result
      if (typeof result.requestId === 'string') {
        accepted += 1
        state.waitlistOffer.delete(courseId)
        state.notes.delete(courseId)
        state.cartResults.set(courseId, { tone: 'ok', text: '접수됨' })
        trackRequest(result)
      } else {
        refused += 1
        const code = result.error?.code
        if (code === 'COURSE_FULL') state.waitlistOffer.add(courseId)
        if (code === 'ALREADY_ENROLLED') {
          state.enrolled.add(courseId)
          scheduleTimetable()
        }
        state.cartResults.set(courseId, {
          tone: code === 'ALREADY_ENROLLED' ? 'info' : 'error',
          text: errorText(result.error),
        })
      }
    }
    message = refused
      ? `${accepted}과목 접수, ${refused}과목은 신청되지 않았습니다. 과목별 사유를 확인하세요.`
      : `${accepted}과목이 모두 접수되었습니다. 신청 현황에서 결과를 확인하세요.`
  } catch (error) {
    if (mine !== session) return
    state.cartPending = null
    clearCartSending()
    if (error.status === 401) return
    message = cartRefused(error, attempts)
  }
  setText($.cartMessage, message)
  announce(message)
  renderCart()
  updateAllCourses()
}

function clearCartSending() {
  for (const [courseId, pending] of state.pending) {
    if (pending.viaCart) state.pending.delete(courseId)
  }
}

function cartRefused(error, attempts) {
  if (error.code === 'REGISTRATION_CLOSED') {
    void refreshMe()
    return closedText(error)
  }
  if (error.status === 429) {
    const seconds = Math.max(1, error.retryAfter ?? 5)
    state.cartPending = { kind: 'blocked', until: Date.now() + seconds * 1000, attempts }
    later(() => {
      if (state.cartPending?.kind !== 'blocked') return
      state.cartPending = null
      setText($.cartMessage, '')
      renderCartButton()
    }, seconds * 1000)
    return `요청이 너무 잦습니다. ${formatSeconds(seconds)} 후 다시 누르세요.`
  }
  if (retryable(error)) {
    if (attempts >= AUTO_RETRY_LIMIT) {
      return `${errorText(error)} 자동 재시도를 멈췄습니다. 다시 눌러 신청하세요.`
    }
    const seconds = Math.max(
      1,
      error.retryAfter ?? Math.min(DEFAULT_RETRY_SECONDS * 2 ** attempts, 30),
    )
    state.cartPending = {
      kind: 'retrying',
      until: Date.now() + seconds * 1000,
      attempts: attempts + 1,
    }
    later(() => void requestCart(true), seconds * 1000)
    const why = error.status === 0 ? '서버에 연결하지 못했습니다.' : '서버가 혼잡합니다.'
    return `${why} ${formatSeconds(seconds)} 후 자동으로 다시 신청합니다.`
  }
  return errorText(error)
}

// ---------------------------------------------------------------------------------------------
// Timetable

function scheduleTimetable() {
  if (timetableTimer !== null) return
  timetableTimer = later(() => {
    timetableTimer = null
    void refreshTimetable()
  }, 300)
}

async function refreshTimetable() {
  const mine = session
  let table
  try {
    table = (await api('GET', '/api/v1/me/timetable')).data
  } catch (error) {
    if (mine !== session || error.status === 401) return
    setText($.timetableError, `시간표를 불러오지 못했습니다. ${errorText(error)}`)
    later(scheduleTimetable, Math.max(5, error.retryAfter ?? 10) * 1000)
    return
  }
  if (mine !== session) return
  const courses = (Array.isArray(table?.courses) ? table.courses : []).filter(
    (c) => typeof c?.courseId === 'string',
  )
  state.timetable = {
    totalCredits: finite(table?.totalCredits) ?? 0,
    maxCredits: finite(table?.maxCredits) ?? state.me?.maxCredits ?? null,
    courses,
  }
  state.enrolled = new Set(courses.map((c) => c.courseId))
  setText($.timetableError, '')
  renderTimetable()
  updateAllCourses()
  renderCartButton()
}

function renderTimetable() {
  const table = state.timetable
  if (!table) return
  const { totalCredits, maxCredits } = table
  setText(
    $.timetableCredits,
    maxCredits !== null ? `${totalCredits} / ${maxCredits} 학점` : `${totalCredits} 학점`,
  )
  $.timetableGrid.replaceChildren(buildTimetable(table.courses))
  const ids = table.courses.map((c) => c.courseId)
  syncChildren($.enrolledList, ids, enrolledRows, createEnrolledRow)
  for (const course of table.courses) updateEnrolledRow(course)
  $.enrolledEmpty.hidden = ids.length > 0
}

function createEnrolledRow(id) {
  const p = {
    title: h('span', { class: 'enrolled-title' }),
    meta: h('span', { class: 'enrolled-meta' }),
    label: h('span', { text: '수강 취소' }),
    name: h('span', { class: 'sr-only' }),
  }
  p.cancel = h(
    'button',
    {
      type: 'button',
      class: 'button danger small',
      dataset: { testid: 'cancel-button', courseId: id },
      onclick: () => void cancelEnrollment(id, p.cancel),
    },
    p.name,
    p.label,
  )
  const row = h(
    'li',
    { class: 'enrolled', dataset: { testid: 'enrolled-course', courseId: id } },
    h('div', { class: 'enrolled-text' }, p.title, p.meta),
    p.cancel,
  )
  parts.set(row, p)
  return row
}

function updateEnrolledRow(course) {
  const row = enrolledRows.get(course.courseId)
  if (!row) return
  const p = parts.get(row)
  setText(p.title, course.title)
  const professor = course.professor ? `${course.professor} · ` : ''
  setText(
    p.meta,
    `${course.courseId} · ${professor}${course.credits}학점 · ${formatMeetings(course.meetings)}`,
  )
  setText(p.name, `${course.title} `)
  const busy = state.cancelling.has(course.courseId)
  setText(p.label, busy ? '취소 중…' : '수강 취소')
  setDisabled(p.cancel, busy)
}

/**
 * Asks first: a cancelled seat goes to the waitlist at once, and a waitlist place given up is
 * gone; neither can be taken back.
 */
function confirmAction(text, { title = '수강 취소', yes = '수강 취소' } = {}) {
  const dialog = $.confirmDialog
  if (typeof dialog.showModal !== 'function') return Promise.resolve(window.confirm(text))
  setText($.confirmTitle, title)
  setText($.confirmYes, yes)
  setText($.confirmText, text)
  dialog.returnValue = ''
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'confirm'), {
      once: true,
    })
    dialog.showModal()
  })
}

async function cancelEnrollment(id, button) {
  if (state.cancelling.has(id)) return
  const title = titleOf(id)
  const confirmed = await confirmAction(
    `${title} (${id}) 수강을 취소할까요? 비운 자리는 곧바로 다른 학생에게 넘어가므로 되돌릴 수 없습니다.`,
  )
  if (!confirmed) {
    if (button.isConnected) button.focus()
    return
  }
  const mine = session
  state.cancelling.add(id)
  const course = state.timetable?.courses.find((c) => c.courseId === id)
  if (course) updateEnrolledRow(course)
  try {
    await api('DELETE', `/api/v1/me/enrollments/${segment(id)}`)
    if (mine !== session) return
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
    announce(`${title} 수강을 취소했습니다.`)
  } catch (error) {
    if (mine !== session || error.status === 401) return
    const text = `수강 취소: ${errorText(error)}`
    setText($.timetableError, text)
    announce(text)
  } finally {
    if (mine === session) state.cancelling.delete(id)
  }
  if (mine !== session) return
  await refreshTimetable()
  renderRequests()
  updateCourse(id)
  void refreshCourses()
  if (!button.isConnected && focusLost()) $.timetableTitle.focus()
  else if (course) updateEnrolledRow(course)
}

async function leaveWaitlist(requestId, button) {
  const view = state.requests.get(requestId)
  if (!view || state.leaving.has(requestId)) return
  const id = view.courseId
  const title = titleOf(id)
  const confirmed = await confirmAction(
    `${title} (${id}) 대기를 취소할까요? 대기 순번은 곧바로 뒤의 학생들에게 넘어가므로 되돌릴 수 없습니다. 다시 대기 신청하면 맨 뒤에 섭니다.`,
    { title: '대기 취소', yes: '대기 취소' },
  )
  if (!confirmed) {
    if (button.isConnected) button.focus()
    return
  }
  const mine = session
  state.leaving.add(requestId)
  updateRequestRow(requestId)
  try {
    await api('DELETE', `/api/v1/me/waitlist/${segment(id)}`)
    if (mine !== session) return
    trackRequest({ requestId, courseId: id, status: 'rejected', reason: 'LEFT_WAITLIST' })
    announce(`${title} 대기를 취소했습니다.`)
  } catch (error) {
    if (mine !== session || error.status === 401) return
    state.notes.set(id, { tone: 'error', text: `대기 취소: ${errorText(error)}` })
    announce(`대기 취소: ${errorText(error)}`)
    // Promoted meanwhile, perhaps: ask where the request stands now.
    if (error.status === 404) {
      try {
        const { data } = await api('GET', `/api/v1/enrollment-requests/${segment(requestId)}`)
        if (mine === session) trackRequest(data)
      } catch {
        // The watcher keeps asking.
      }
    }
  } finally {
    if (mine === session) state.leaving.delete(requestId)
  }
  if (mine !== session) return
  updateRequestRow(requestId)
  updateCourse(id)
  void refreshCourses()
  // The button hides once the place is gone: keep the keyboard user in the panel.
  if ((!button.isConnected || button.hidden) && focusLost()) $.requestsTitle.focus()
}

boot()
