import { createHash } from 'node:crypto'
import type { Browser, Page } from 'playwright-core'
import t from 'tap'
import { audit, launchChromium } from './chromium.js'
import type { FastifyInstance } from 'fastify'
import { configFrom, isolatedEnv, PASSWORD, seedDatabase, startInstance } from '../helper.js'

/** Long enough for a page without EventSource, which polls every 10 s at the slowest. */
const LONG = 30_000
const TOKEN = 'operator-token-for-the-browser-test'
const ADMIN_TOKENS = `ops:${createHash('sha256').update(TOKEN).digest('hex')}`

/** One student's browser window: what it asked the server, its loads, what went wrong. */
interface Window {
  readonly page: Page
  readonly errors: string[]
  /** Every request the page made: its path and query. */
  readonly paths: string[]
  loads: number
}

async function openWindow(browser: Browser, options: { eventSource: boolean }): Promise<Window> {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 800 },
    locale: 'ko-KR',
  })
  // A browser without EventSource: the page must poll for the notices.
  if (!options.eventSource) await context.addInitScript({ content: 'delete window.EventSource' })
  const page = await context.newPage()
  const w: Window = { page, errors: [], paths: [], loads: 0 }
  page.on('pageerror', (err) => w.errors.push(err.message))
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) {
      w.errors.push(msg.text())
    }
  })
  page.on('request', (req) => {
    const url = new URL(req.url())
    w.paths.push(url.pathname + url.search)
    if (req.isNavigationRequest()) w.loads += 1
  })
  return w
}

async function logIn(w: Window, studentId: string): Promise<void> {
  await w.page.getByTestId('login-student-id').fill(studentId)
  await w.page.getByTestId('login-password').fill(PASSWORD)
  await w.page.getByTestId('login-submit').click()
  await w.page.locator('[data-testid="course-row"]').first().waitFor()
}

/** A command of the admin API, on its own listener, as an operator sends it. */
async function admin(app: FastifyInstance, path: string, body: object): Promise<number> {
  const address = app.adminAddress()
  if (!address) throw new Error('the admin listener is not listening')
  const res = await fetch(`http://127.0.0.1:${address.port}/admin/v1${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  await res.arrayBuffer()
  return res.status
}

t.test(
  'operators reach the open pages: a banner, a pause on the request, a moved opening counted down',
  async (t) => {
    const env = await isolatedEnv(t, 'operator-page')
    // Registration is open from the start: the student's request is queued at once, and stays
    // queued (no admission worker) while the operators act.
    const config = configFrom(env, { ADMIN_TOKENS, ADMIN_PORT: '0' })
    await seedDatabase(config, { students: 2, courses: 3, capacity: 10 })
    const app = await startInstance(t, config, { worker: false })
    await app.listen({ host: '127.0.0.1', port: 0 })
    const address = app.server.address()
    if (!address || typeof address === 'string') throw new Error('no address')
    const base = `http://127.0.0.1:${address.port}`

    const browser = await launchChromium(t)

    // The student's page holds the event stream; their request for 자료구조 (C0001) is queued.
    const live = await openWindow(browser, { eventSource: true })
    const p = live.page
    await p.goto(base)
    await logIn(live, 'S000001')
    await p.locator('[data-testid="request-button"][data-course-id="C0001"]').click()
    const request = p.locator('[data-testid="request-status"][data-course-id="C0001"]')
    await request.and(p.locator('[data-status="queued"]')).waitFor({ timeout: LONG })
    const banner = (page: Page) => page.locator('[data-testid="notice-banner"]:visible')
    t.equal(await p.getByTestId('notice-banner').isVisible(), false, 'no banner while none is set')

    // An announcement through the admin API appears on the open page, pushed.
    t.equal(
      await admin(app, '/announcement', {
        ko: '서버 점검으로 10시 5분까지 신청 처리가 늦어질 수 있습니다.',
        en: 'Requests may be decided late until 10:05 (server maintenance).',
        reason: 'database failover',
      }),
      200,
    )
    await banner(p).and(p.locator(':has-text("10시 5분까지")')).waitFor({ timeout: LONG })
    t.equal(
      await p.getByTestId('notice-text').textContent(),
      '서버 점검으로 10시 5분까지 신청 처리가 늦어질 수 있습니다.',
      'in Korean, as the page is',
    )

    // A browser without EventSource: the login page shows the banner (one look), and once
    // logged in the page polls GET /notices for what changes.
    const polling = await openWindow(browser, { eventSource: false })
    const q = polling.page
    await q.goto(base)
    await banner(q).and(q.locator(':has-text("10시 5분까지")')).waitFor({ timeout: LONG })
    t.ok(await q.getByTestId('login-form').isVisible(), 'on the login page')
    await logIn(polling, 'S000002')

    // A pause of the student's course: their request says so, with the reason.
    await app.sugang.operations.pause('ops', 'C0001', '좌석 수 재확인 중')
    const paused = request.locator('[data-testid="request-paused"]:visible')
    await paused.waitFor({ timeout: LONG })
    t.match(await paused.textContent(), /일시 중지 — 좌석 수 재확인 중/)
    t.equal(await request.getAttribute('data-paused'), 'true')
    t.notOk(await p.getByTestId('pause-notice').isVisible(), 'no line for every course')

    // A pause of every course: a line for everyone, the polling page included.
    t.equal(await admin(app, '/pause', { reason: '데이터베이스 전환 중' }), 200)
    for (const page of [p, q]) {
      await page
        .locator('[data-testid="pause-notice"]:visible:has-text("데이터베이스 전환 중")')
        .waitFor({ timeout: LONG })
    }
    t.match(await p.getByTestId('pause-notice').textContent(), /모든 과목의 신청 처리가 일시 중지/)
    await audit(t, p, 'a banner, a pause of every course, a paused request')
    t.equal(await admin(app, '/resume', { reason: '전환 완료' }), 200)
    await p.getByTestId('pause-notice').waitFor({ state: 'hidden', timeout: LONG })
    t.match(await paused.textContent(), /좌석 수 재확인 중/, "the course's own pause stays")

    // In English: the banner's English text, "Paused" with the reason.
    await p.getByTestId('lang-switch').click()
    await banner(p).and(p.locator(':has-text("server maintenance")')).waitFor()
    t.match(await paused.textContent(), /^Paused — 좌석 수 재확인 중/)
    await p.getByTestId('lang-switch').click()
    await banner(p).and(p.locator(':has-text("10시 5분까지")')).waitFor()

    // Closed, the banner stays closed; a new announcement shows again, on both pages.
    await p.getByTestId('notice-dismiss').click()
    await p.getByTestId('notice-banner').waitFor({ state: 'hidden' })
    await app.sugang.operations.announce(
      'ops',
      { ko: '10시 30분에 다시 시작합니다.', en: 'Registration resumes at 10:30.' },
      'a new time',
    )
    for (const page of [p, q]) {
      await banner(page).and(page.locator(':has-text("10시 30분")')).waitFor({ timeout: LONG })
    }

    // Resumed: the request no longer says it is paused.
    t.equal(await admin(app, '/resume', { course: 'C0001', reason: '확인 완료' }), 200)
    await request.locator('[data-testid="request-paused"]').waitFor({ state: 'hidden' })
    t.equal(await request.getAttribute('data-paused'), '')

    // The opening moved two hours later: the page asks for its window again and counts down to
    // the new time, without a reload.
    t.equal(
      await p.getByTestId('registration-status').getAttribute('data-state'),
      'open',
      'open before the move',
    )
    const opensAt = Date.now() + 2 * 3_600_000
    t.equal(
      await admin(app, '/window', {
        opensAt: new Date(opensAt).toISOString(),
        reason: 'the failover took longer',
      }),
      200,
    )
    for (const page of [p, q]) {
      await page
        .locator('[data-testid="registration-status"][data-state="before"]')
        .waitFor({ timeout: LONG })
      await page.locator('[data-testid="countdown"]:visible').waitFor()
    }
    const remaining = Number(
      await p.getByTestId('countdown').getAttribute('data-remaining-seconds'),
    )
    t.ok(
      remaining > 7000 && remaining <= 7200,
      `the countdown is to the new opening: ${remaining} s`,
    )
    t.match(await p.getByTestId('countdown').textContent(), /^0?1:5\d:\d\d$/)
    t.equal(live.loads, 1, 'no reload')
    t.equal(polling.loads, 1, 'no reload on the polling page either')

    // How each page heard it: one over the stream, the other by polling GET /notices.
    t.ok(live.paths.includes('/api/v1/me/events'), 'the live page held a stream with no request')
    t.ok(
      live.paths.some((path) => path.startsWith('/api/v1/me/events?requests=')),
      'and one with its request',
    )
    t.notOk(
      polling.paths.some((path) => path.startsWith('/api/v1/me/events')),
      'the polling page opened no stream',
    )
    t.ok(
      polling.paths.filter((path) => path === '/api/v1/notices').length >= 2,
      'and polled the notices',
    )

    // Closed, the banner stays closed after a reload: the page hears of the announcement again
    // and does not show it.
    const id = await p.getByTestId('notice-banner').getAttribute('data-announcement-id')
    t.ok(id, 'the banner names its announcement')
    await p.getByTestId('notice-dismiss').click()
    await p.getByTestId('notice-banner').waitFor({ state: 'hidden' })
    await p.reload()
    await p
      .locator(`[data-testid="notice-banner"][data-announcement-id="${id}"][data-closed="true"]`)
      .waitFor({ state: 'attached', timeout: LONG })
    t.notOk(await p.getByTestId('notice-banner').isVisible(), 'closed for good')

    t.same(live.errors, [], 'no script errors on the live page')
    t.same(polling.errors, [], 'no script errors on the polling page')
  },
)
