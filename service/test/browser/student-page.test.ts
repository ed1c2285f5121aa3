import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import t from 'tap'
import { audit, launchChromium } from './chromium.js'
import type { Test as Tap } from 'tap'
import type { Decision } from '../../src/domain/model.js'
import {
  configFrom,
  database,
  isolatedEnv,
  login,
  PASSWORD,
  seedDatabase,
  startInstance,
  waitFor,
} from '../helper.js'

/** Screenshots land here (ignored by git): the test's own output folder. */
const SHOTS = join(process.cwd(), 'test-output', 'browser')
const RIVALS = 30
/** The demo semester's size: the course list the idle measurement downloads is that long. */
const COURSES = 66
const PHONE = { width: 375, height: 740 }
const DESKTOP = { width: 1280, height: 800 }
const LONG = 30_000

const student = (n: number) => `S${String(n).padStart(6, '0')}`

/** One student's browser window: its own cookies, what it asked the server, what went wrong. */
interface Window {
  readonly context: BrowserContext
  readonly page: Page
  readonly errors: string[]
  /** Every request the page made: method and path. */
  readonly requests: Array<{ method: string; path: string }>
  /** Loads of the page itself (the first one and any reload). */
  loads: number
}

async function openWindow(browser: Browser, viewport: { width: number; height: number }) {
  const context = await browser.newContext({ viewport, locale: 'ko-KR' })
  const page = await context.newPage()
  const w: Window = { context, page, errors: [], requests: [], loads: 0 }
  page.on('pageerror', (err) => w.errors.push(err.message))
  page.on('console', (msg) => {
    // The browser reports every 4xx as a console error; the 401s of logging in are expected.
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) {
      w.errors.push(msg.text())
    }
  })
  page.on('request', (req) => {
    const url = new URL(req.url())
    w.requests.push({ method: req.method(), path: url.pathname })
    if (req.isNavigationRequest()) w.loads += 1
  })
  return w
}

async function logIn(base: string, w: Window, studentId: string) {
  await w.page.goto(base)
  await w.page.getByTestId('login-student-id').fill(studentId)
  await w.page.getByTestId('login-password').fill(PASSWORD)
  await w.page.getByTestId('login-submit').click()
  await w.page.getByTestId('course-list').waitFor({ state: 'visible' })
  await w.page.locator('[data-testid="course-row"]').first().waitFor()
}

const testid = (page: Page, id: string, course?: string) =>
  page.locator(
    course ? `[data-testid="${id}"][data-course-id="${course}"]` : `[data-testid="${id}"]`,
  )

/**
 * Watches the page for screens that contradict each other, at every change of the DOM, for the
 * whole rush: a course refused as full whose row still offers seats; a cart item that says
 * something else than the course's request; a request enrolled whose course's button does not
 * say so.
 */
const WATCH_CONTRADICTIONS = `(() => {
  const seen = []
  window.__contradictions = seen
  const check = () => {
    for (const request of document.querySelectorAll('[data-testid="request-status"]')) {
      const course = request.dataset.courseId
      const status = request.dataset.status
      const row = document.querySelector('[data-testid="course-row"][data-course-id="' + course + '"]')
      const seats = row?.querySelector('[data-testid="course-seats"]')
      const button = row?.querySelector('[data-testid="request-button"]')
      const item = document.querySelector('[data-testid="cart-item"][data-course-id="' + course + '"]')
      const say = (what) => seen.push(what + ' (' + course + ': ' + request.textContent + ' | ' + (seats?.textContent ?? '') + ' | ' + (item?.textContent ?? '') + ')')
      if (status === 'rejected' && request.dataset.reason === 'COURSE_FULL' && seats?.dataset.state === 'open') say('refused as full, the row offers seats')
      if (status === 'enrolled' && button && button.dataset.state !== 'enrolled') say('enrolled, the button says ' + button.dataset.state)
      if (item) {
        const expected = { queued: 'live', checking: 'live', enrolled: 'enrolled', rejected: 'rejected', waitlisted: 'waitlisted', unknown: 'unknown' }[status]
        const cart = item.dataset.state
        // A new request for the course on its way (its button says so) is what the cart shows.
        const sending = button?.dataset.state === 'sending' && cart === 'live'
        if (expected && cart !== expected && !sending) say('the cart says ' + cart + ', the request ' + status)
      }
    }
  }
  new MutationObserver(check).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true })
})()`

t.test(
  'the rush on a phone (Korean) and a desktop (English): the waiting panel, a pinned bar, a cart that settles, no contradiction, a promotion pushed',
  async (t) => {
    mkdirSync(SHOTS, { recursive: true })
    const env = await isolatedEnv(t, 'browser')
    // Registration opens in an hour for everyone (year 4 included): however slow the machine,
    // the pages show a countdown. Once the carts are filled the test brings the openings to a
    // few seconds away: year 4 (the rivals) first, then year 1 (the two students).
    const inAnHour = new Date(Date.now() + 3_600_000).toISOString()
    const config = configFrom(env, {
      REGISTRATION_OPENS_AT: inAnHour,
      REGISTRATION_OPENS_AT_BY_YEAR: `4=${inAnHour}`,
    })
    const opensAt = config.registration.opensAt
    const rivalsOpen = config.registration.opensAtByYear.get(4)
    if (!opensAt || !rivalsOpen) throw new Error('no opening time')
    await seedDatabase(config, { students: RIVALS + 3, courses: COURSES, capacity: 100 })
    const db = await database(t, config)
    await db.query(
      `UPDATE courses SET title = '자료구조', professor = '김민준', capacity = 5,
       meetings = '[{"day":"MON","start":3,"end":4,"room":"공학관 301"}]' WHERE id = 'C0001'`,
    )
    await db.query(
      `UPDATE courses SET title = '운영체제', professor = '이서연',
       meetings = '[{"day":"WED","start":5,"end":7,"room":"공학관 502"}]' WHERE id = 'C0002'`,
    )
    await db.query(
      `UPDATE courses SET title = '데이터베이스', professor = '박지훈',
       meetings = '[{"day":"WED","start":6,"end":7,"room":"공학관 204"}]' WHERE id = 'C0003'`,
    )
    const rivals = Array.from({ length: RIVALS }, (_, i) => student(i + 4))
    await db.query('UPDATE students SET year = 4 WHERE id IN (?)', [rivals])

    // The pages' instance (its worker waits: the test lets the queue go at its own pace), and a
    // second instance on the same MySQL and Redis, where another student's cancellation lands.
    const app = await startInstance(t, config, { worker: false })
    const other = await startInstance(t, config, { worker: false })
    await app.listen({ host: '127.0.0.1', port: 0 })
    const address = app.server.address()
    if (!address || typeof address === 'string') throw new Error('no address')
    const base = `http://127.0.0.1:${address.port}`

    // One browser, one window (context: cookies of its own) per student. Playwright starts it
    // with a fresh profile of its own; nothing is carried over, nothing dialled out.
    const browser = await launchChromium(t)
    const [phone, desktop] = await Promise.all([
      openWindow(browser, PHONE),
      openWindow(browser, DESKTOP),
    ])
    const idle = measureIdle(t, browser, base)
    await Promise.all([logIn(base, phone, student(1)), logIn(base, desktop, student(2))])
    for (const w of [phone, desktop]) await w.page.evaluate(WATCH_CONTRADICTIONS)
    const p = phone.page
    const d = desktop.page

    // The desktop student reads English: the switch, the lang attribute, the texts.
    await testid(d, 'lang-switch').click()
    t.equal(await d.evaluate('document.documentElement.lang'), 'en', 'lang="en"')
    t.equal(
      await testid(d, 'lang-switch')
        .textContent()
        .then((s) => s?.trim()),
      '한국어',
    )
    t.equal(
      await testid(d, 'lang-switch').getAttribute('lang'),
      'ko',
      'the switch names its language',
    )
    await d.getByRole('heading', { name: 'Courses' }).waitFor()
    t.equal(await p.evaluate('document.documentElement.lang'), 'ko', 'the phone stays Korean')

    // Before the opening: a countdown and the server's clock in a bar pinned in view.
    await testid(p, 'countdown').waitFor({ state: 'visible' })
    t.equal(await testid(p, 'registration-status').getAttribute('data-state'), 'before')
    for (const w of [phone, desktop]) {
      for (const course of ['C0001', 'C0002', 'C0003']) {
        await testid(w.page, 'cart-toggle', course).click()
        await testid(w.page, 'cart-item', course).waitFor()
      }
    }

    // A clash of the cart is told before anything is sent, naming the other course.
    await waitFor('the clash in the cart', async () =>
      (await testid(p, 'cart-item-warning', 'C0003').textContent())?.includes('운영체제'),
    )
    t.match(
      await testid(p, 'cart-item-warning', 'C0003').textContent(),
      /운영체제.*시간이 겹칩니다/,
    )
    t.match(await testid(p, 'cart-item-warning', 'C0002').textContent(), /데이터베이스/)
    t.match(
      await testid(d, 'cart-item-warning', 'C0003').textContent(),
      /Meets at the same time as 운영체제/,
      'in English too',
    )
    t.ok(await testid(p, 'cart-conflicts').isVisible(), 'and a line for the whole cart')

    // The phone student puts 운영체제 first (a priority the server keeps) and drops 데이터베이스.
    await testid(p, 'cart-move-up', 'C0002').click()
    await waitFor('the new order on the server', async () => {
      const [rows] = await db.query<Array<{ course_id: string }>>(
        "SELECT course_id FROM cart_items WHERE student_id = 'S000001' ORDER BY seq",
      )
      return rows.map((r) => r.course_id).join() === 'C0002,C0001,C0003'
    })
    t.same(
      await p
        .locator('[data-testid="cart-item"]')
        .evaluateAll((items) => items.map((i) => i.getAttribute('data-course-id'))),
      ['C0002', 'C0001', 'C0003'],
      'the cart shows the order the server keeps',
    )
    // Both drop 데이터베이스: only one of two clashing courses can be had.
    for (const page of [p, d]) {
      await testid(page, 'cart-remove', 'C0003').click()
      await testid(page, 'cart-item', 'C0003').waitFor({ state: 'detached' })
    }
    t.notOk(await testid(p, 'cart-conflicts').isVisible(), 'no clash left')

    // "Request all" an hour early says why nothing happens, and what will.
    await testid(p, 'bar-request-button').click()
    t.match(await testid(p, 'cart-message').textContent(), /아직 시작 전입니다.*10초 전부터/)

    // The pinned bar on a phone: at the bottom of the page, the clock, the countdown and the
    // button are still on the screen.
    await p.evaluate('window.scrollTo(0, document.body.scrollHeight)')
    for (const id of ['server-clock', 'countdown', 'bar-request-button']) {
      const box = await testid(p, id).boundingBox()
      t.ok(
        box && box.y >= 0 && box.y + box.height <= PHONE.height && box.x + box.width <= PHONE.width,
        `${id} in view at the bottom of the page (${JSON.stringify(box)})`,
      )
    }
    t.match(await testid(p, 'server-clock').textContent(), /서버 시각 \d{2}:\d{2}:\d{2}/)
    // From the top of the page the button is a few Tab presses away, or one skip link.
    // Focus back at the start of the document, as after a load.
    const fromTheTop = `window.scrollTo(0, 0); document.activeElement?.blur();
      document.body.tabIndex = -1; document.body.focus(); document.body.removeAttribute('tabindex')`
    await p.evaluate(fromTheTop)
    let presses = 0
    while (presses < 10) {
      await p.keyboard.press('Tab')
      presses += 1
      if ((await p.evaluate('document.activeElement?.dataset.testid')) === 'bar-request-button')
        break
    }
    t.ok(presses <= 5, `the request button is ${presses} Tab presses from the top`)
    await p.evaluate(fromTheTop)
    await p.keyboard.press('Tab')
    await p.keyboard.press('Tab')
    t.equal(await p.evaluate('document.activeElement?.dataset.testid'), 'skip-rush')
    await p.keyboard.press('Enter')
    t.equal(
      await p.evaluate('document.activeElement?.dataset.testid'),
      'bar-request-button',
      'the skip link goes to the button',
    )
    await audit(t, p, 'the phone before the opening')
    await audit(t, d, 'the desktop, in English, before the opening')
    await idle
    for (const w of [phone, desktop]) {
      t.same(await w.page.evaluate('window.__contradictions'), [], 'no contradiction so far')
    }

    // The openings come forward: the rivals' in 3 s, the students' 9 s later. The pages reload
    // (the cart is still there) and count down.
    const now = Date.now()
    rivalsOpen.setTime(now + 3_000)
    opensAt.setTime(now + 12_000)
    await Promise.all([p.reload(), d.reload()])
    for (const w of [phone, desktop]) await w.page.evaluate(WATCH_CONTRADICTIONS)
    const cookies = await Promise.all(rivals.map((id) => login(app, id)))
    // The rivals rush 자료구조 the moment their window opens: 30 requests for 5 seats.
    await waitFor('the rivals’ opening', async () => Date.now() >= rivalsOpen.getTime(), LONG)
    const rivalRequests = await Promise.all(
      cookies.map(async (cookie) =>
        waitFor('a rival queued', async () => {
          const res = await app.inject({
            method: 'POST',
            url: '/api/v1/courses/C0001/enrollment-requests',
            headers: { cookie },
            payload: {},
          })
          return res.statusCode === 202 && (res.json() as { requestId: string }).requestId
        }),
      ),
    )

    // In the last seconds, "request all" is kept for the opening, and says so.
    for (const [w, armed] of [
      [phone, /시작 순간 신청 예약됨/],
      [desktop, /Set to send at the opening/],
    ] as const) {
      await w.page
        .locator('[data-testid="countdown"]:not([hidden])')
        .and(
          w.page.locator(
            ['9', '8', '7', '6', '5', '4', '3']
              .map((s) => `[data-remaining-seconds="${s}"]`)
              .join(', '),
          ),
        )
        .waitFor({ timeout: LONG })
      await testid(w.page, 'bar-request-button').click()
      t.equal(await testid(w.page, 'bar-request-button').getAttribute('data-state'), 'armed')
      t.match(await testid(w.page, 'bar-request-button').textContent(), armed)
    }
    t.match(
      await testid(p, 'cart-message').textContent(),
      /시작되는 순간 장바구니 전체를 신청합니다/,
    )

    // The opening: both carts go by themselves, and the waiting panel shows the line.
    const item = (page: Page, course: string) =>
      page.locator(`[data-testid="wait-item"][data-course-id="${course}"]`)
    await Promise.all([item(p, 'C0001').waitFor({ timeout: LONG }), item(d, 'C0001').waitFor()])
    const joinedAt = Date.now()
    const ahead = async (page: Page, course = 'C0001') =>
      Number(await item(page, course).getAttribute('data-ahead'))
    const estimate = async (page: Page, course = 'C0001') =>
      (await item(page, course).getAttribute('data-estimate-seconds')) ?? ''
    const aheads = [await ahead(p), await ahead(d)]
    t.same(
      [...aheads].sort(),
      [RIVALS, RIVALS + 1],
      `behind the ${RIVALS} rivals, one of them behind the other (${aheads})`,
    )
    t.ok((await ahead(p, 'C0002')) <= 1, '운영체제: at the head')
    t.match(await item(p, 'C0001').textContent(), new RegExp(`앞에 ${aheads[0]}명`))
    t.match(await item(d, 'C0001').textContent(), new RegExp(`${aheads[1]} students ahead`))
    const shownAtJoin =
      (await item(p, 'C0001').locator('[data-testid="wait-estimate"]').textContent()) ?? ''
    t.match(shownAtJoin, /예상 (대기|시간)/, `at the join: ${shownAtJoin}`)
    t.ok(await testid(p, 'bar-wait').isVisible(), 'the pinned bar says the line too')
    t.match(await testid(p, 'bar-wait').textContent(), /처리 대기 · 앞에 최대/)
    await audit(t, p, 'the phone, waiting')
    await audit(t, d, 'the desktop, waiting')

    // The queue moves (the test lets go of the rivals at its head, ten at a time): the people
    // ahead and the estimate follow, pushed, with no reload.
    const { queue, leases } = app.sugang.rush
    const seen: Array<{ ahead: number; estimate: string }> = [
      { ahead: aheads[0] as number, estimate: await estimate(p) },
    ]
    for (let step = 1; step <= 2; step += 1) {
      await leases.acquireCourse('C0001', 'browser-test', 60_000)
      const heads = await queue.head('C0001', 10)
      const decisions: Decision[] = heads
        .filter((h) => rivalRequests.includes(h.requestId))
        .map((h) => ({
          requestId: h.requestId,
          studentId: h.studentId,
          status: 'rejected',
          reason: 'COURSE_FULL',
        }))
      await queue.settle('C0001', 'browser-test', decisions, {
        seatsLeft: 5,
        versionBefore: 0,
        version: 0,
      })
      await leases.releaseCourse('C0001', 'browser-test')
      const expected = (aheads[0] as number) - step * 10
      await item(p, 'C0001')
        .and(p.locator(`[data-ahead="${expected}"]`))
        .waitFor({ timeout: LONG })
      await waitFor('an estimate', async () => (await estimate(p)) !== '', LONG)
      seen.push({ ahead: expected, estimate: await estimate(p) })
    }
    t.same(
      seen.map((s) => s.ahead),
      [aheads[0], (aheads[0] as number) - 10, (aheads[0] as number) - 20],
      'the people ahead, as the queue let go of them',
    )
    t.ok(
      new Set(seen.map((s) => s.estimate)).size >= 2,
      `the estimate moved: ${JSON.stringify(seen)}`,
    )
    t.match(
      await item(p, 'C0001').locator('[data-testid="wait-estimate"]').textContent(),
      /예상 대기 약 \d+초/,
    )
    t.match(
      await item(d, 'C0001').locator('[data-testid="wait-estimate"]').textContent(),
      /about \d+ seconds? to go/,
    )
    // The panel as a student sees it, people ahead and the estimate (docs/images/ has a copy of each).
    await p.screenshot({ path: join(SHOTS, 'panel-phone.png') })
    await d.screenshot({
      path: join(SHOTS, 'panel-desktop.png'),
      clip: { x: 0, y: 0, width: DESKTOP.width, height: 500 },
    })
    const estimated = Number(seen.at(-1)?.estimate)
    const estimatedAt = Date.now()
    t.ok(
      phone.loads === 2 && desktop.loads === 2,
      'no page was reloaded for any of it (one load, one reload before the opening)',
    )

    // Admission runs: 5 of the 10 rivals left get the seats, both students are refused 자료구조
    // and get 운영체제.
    app.sugang.worker.start()
    const request = (page: Page, course: string, status: string) =>
      page.locator(
        `[data-testid="request-status"][data-course-id="${course}"][data-status="${status}"]`,
      )
    await request(p, 'C0001', 'rejected').waitFor({ timeout: LONG })
    const decidedAt = Date.now()
    t.comment(
      `phone, 자료구조: at the join the page said "${shownAtJoin}"; the last estimate was ${estimated} s at ${seen.at(-1)?.ahead} ahead; the decision came ${((decidedAt - estimatedAt) / 1000).toFixed(1)} s after it (${((decidedAt - joinedAt) / 1000).toFixed(1)} s after the join; the pace here is the test's)`,
    )
    await request(p, 'C0002', 'enrolled').waitFor({ timeout: LONG })
    await request(d, 'C0001', 'rejected').waitFor({ timeout: LONG })
    await request(d, 'C0002', 'enrolled').waitFor({ timeout: LONG })
    t.match(await request(p, 'C0001', 'rejected').textContent(), /신청 실패 — 정원 초과/)
    t.match(await request(d, 'C0001', 'rejected').textContent(), /Not enrolled — course full/)
    t.match(await request(d, 'C0002', 'enrolled').textContent(), /Enrolled/)
    await testid(p, 'wait-panel').waitFor({ state: 'hidden' })

    // The cart settles: each course's own result, the enrolled one gone, the button done.
    await testid(p, 'cart-item', 'C0002').waitFor({ state: 'detached', timeout: LONG })
    t.match(await testid(p, 'cart-item', 'C0001').textContent(), /신청 실패 — 정원 초과/)
    t.equal(await testid(p, 'cart-item', 'C0001').getAttribute('data-state'), 'rejected')
    for (const [w, settled] of [
      [phone, /모든 과목의 결과가 나왔습니다/],
      [desktop, /Every course has its result/],
    ] as const) {
      const button = testid(w.page, 'cart-request-button')
      await w.page
        .locator('[data-testid="cart-request-button"][data-state="settled"]')
        .waitFor({ timeout: LONG })
      t.match(await button.textContent(), settled)
      t.equal(await button.getAttribute('aria-disabled'), 'true', 'and cannot be pressed')
    }
    t.match(await testid(p, 'cart-message').textContent(), /신청 완료 1과목, 실패 1과목/)
    t.match(await testid(d, 'cart-message').textContent(), /1 enrolled, 1 not/)
    const [carts] = await db.query<Array<{ student_id: string; course_id: string }>>(
      "SELECT student_id, course_id FROM cart_items WHERE student_id IN ('S000001', 'S000002') ORDER BY student_id, seq",
    )
    t.same(
      carts.map((c) => `${c.student_id}:${c.course_id}`),
      ['S000001:C0001', 'S000002:C0001'],
      'on the server too: what was enrolled left the carts',
    )
    const [mine] = await db.query<Array<{ student_id: string; course_id: string }>>(
      "SELECT student_id, course_id FROM enrollments WHERE student_id IN ('S000001', 'S000002') ORDER BY student_id",
    )
    t.same(
      mine.map((c) => `${c.student_id}:${c.course_id}`),
      ['S000001:C0002', 'S000002:C0002'],
      'what the pages say is what the database holds',
    )
    // The row of the full course: being checked, then no seat, never seats beside "full".
    await testid(p, 'course-row', 'C0001')
      .locator('[data-testid="course-seats"][data-state="full"]')
      .waitFor({ timeout: LONG })
    t.match(await testid(p, 'course-row', 'C0001').textContent(), /여석 없음/)
    await testid(p, 'timetable-cell', undefined)
      .and(p.locator('[data-day="WED"][data-period="6"][data-course-id="C0002"]'))
      .waitFor({ timeout: LONG })
    t.match(await testid(p, 'timetable-credits').textContent(), /3\s*\/\s*18/)

    // A clash with an enrollment is told before sending: 데이터베이스 cannot be asked for.
    const clash = testid(p, 'request-button', 'C0003')
    await p
      .locator('[data-testid="request-button"][data-course-id="C0003"][data-state="conflict"]')
      .waitFor()
    t.equal(await clash.getAttribute('aria-disabled'), 'true')
    t.match(
      await testid(p, 'course-row', 'C0003').locator('[data-testid="course-note"]').textContent(),
      /이미 신청한 운영체제와 시간이 겹쳐/,
    )
    // Pressed anyway (it says why it cannot be): nothing goes to the server.
    await clash.click({ force: true })
    t.notOk(
      phone.requests.some((r) => r.method === 'POST' && r.path.includes('/courses/C0003/')),
      'nothing was sent',
    )
    await audit(t, p, 'the phone, with its results')
    await audit(t, d, 'the desktop, with its results')

    // The waitlist of the full course: the phone student first, the desktop student second.
    await testid(p, 'request-button', 'C0001').and(p.locator('[data-state="waitlist"]')).click()
    await request(p, 'C0001', 'waitlisted')
      .and(p.locator('[data-position="1"]'))
      .waitFor({ timeout: LONG })
    t.match(await request(p, 'C0001', 'waitlisted').textContent(), /빈자리 대기 1번째/)
    await testid(d, 'request-button', 'C0001').and(d.locator('[data-state="waitlist"]')).click()
    await request(d, 'C0001', 'waitlisted')
      .and(d.locator('[data-position="2"]'))
      .waitFor({ timeout: LONG })
    t.match(await request(d, 'C0001', 'waitlisted').textContent(), /Waitlist place 2/)

    // From here the desktop page must learn everything by itself, pushed: no poll, no reload.
    const before = { requests: desktop.requests.length, loads: desktop.loads }
    const polls = () =>
      desktop.requests
        .slice(before.requests)
        .filter((r) => r.path.startsWith('/api/v1/enrollment-requests/'))

    // The phone student leaves the waitlist (asked first, in a dialog that starts on "no").
    await p.locator('[data-testid="leave-waitlist"]:visible').click()
    await testid(p, 'confirm-dialog').waitFor({ state: 'visible' })
    t.equal(
      await p.evaluate('document.activeElement?.dataset.testid'),
      'confirm-no',
      'focus on “no”',
    )
    t.match(await testid(p, 'confirm-dialog').textContent(), /빈자리 대기를 취소할까요/)
    await testid(p, 'confirm-yes').click()
    await request(p, 'C0001', 'rejected').waitFor({ timeout: LONG })
    t.match(await request(p, 'C0001', 'rejected').textContent(), /빈자리 대기를 취소했습니다/)
    const [left] = await db.query<Array<{ n: number }>>(
      "SELECT COUNT(*) AS n FROM waitlist WHERE student_id = 'S000001'",
    )
    t.equal(Number(left[0]?.n), 0, 'the place is gone in the database')
    // The desktop student moves up at once.
    await request(d, 'C0001', 'waitlisted')
      .and(d.locator('[data-position="1"]'))
      .waitFor({ timeout: LONG })
    t.match(await request(d, 'C0001', 'waitlisted').textContent(), /Waitlist place 1/)

    // A rival gives their seat up, through the other instance: the seat goes to the head of the
    // waitlist in the same transaction, and the desktop page shows the promotion, pushed.
    const [holders] = await db.query<Array<{ student_id: string }>>(
      "SELECT student_id FROM enrollments WHERE course_id = 'C0001' ORDER BY student_id LIMIT 1",
    )
    const holder = holders[0]?.student_id as string
    const dropped = await other.inject({
      method: 'DELETE',
      url: '/api/v1/me/enrollments/C0001',
      headers: { cookie: await login(other, holder) },
    })
    t.equal(dropped.statusCode, 204, `${holder} dropped 자료구조 on the other instance`)
    await request(d, 'C0001', 'enrolled').waitFor({ timeout: LONG })
    t.match(await request(d, 'C0001', 'enrolled').textContent(), /Enrolled/)
    t.same(polls(), [], 'the promotion came over the stream: no poll')
    t.equal(desktop.loads, before.loads, 'and no reload')
    await d
      .locator(
        '[data-testid="timetable-cell"][data-day="MON"][data-period="3"][data-course-id="C0001"]',
      )
      .waitFor({ timeout: LONG })
    const [promoted] = await db.query<Array<{ n: number }>>(
      "SELECT COUNT(*) AS n FROM enrollments WHERE student_id = 'S000002' AND course_id = 'C0001'",
    )
    t.equal(Number(promoted[0]?.n), 1, 'enrolled in the database')

    // The phone student drops 운영체제 from the timetable.
    await testid(p, 'cancel-button', 'C0002').click()
    t.equal(await p.evaluate('document.activeElement?.dataset.testid'), 'confirm-no')
    await testid(p, 'confirm-yes').click()
    await p
      .locator('[data-testid="timetable-cell"][data-course-id="C0002"]')
      .first()
      .waitFor({ state: 'detached', timeout: LONG })
    const [after] = await db.query<Array<{ n: number }>>(
      "SELECT COUNT(*) AS n FROM enrollments WHERE student_id = 'S000001'",
    )
    t.equal(Number(after[0]?.n), 0, 'dropped in the database too')
    await p.screenshot({ path: join(SHOTS, 'results-phone.png') })
    await d.screenshot({ path: join(SHOTS, 'results-desktop.png') })

    for (const [name, w] of [
      ['phone', phone],
      ['desktop', desktop],
    ] as const) {
      t.same(
        await w.page.evaluate('window.__contradictions'),
        [],
        `${name}: no screen contradicted another`,
      )
      t.same(w.errors, [], `${name}: no script errors`)
    }
  },
)

/**
 * A student who waits for the opening with the page open: what the page downloads in five
 * minutes (the browser's clock runs them in seconds; the server is real). Returns when done.
 */
async function measureIdle(t: Tap, browser: Browser, base: string): Promise<void> {
  const w = await openWindow(browser, PHONE)
  await w.context.clock.install({ time: Date.now() })
  await logIn(base, w, student(3))
  await testid(w.page, 'courses-updated').and(w.page.locator(':not(:empty)')).waitFor()
  let bytes = 0
  let sent = 0
  let inFlight = 0
  const looks: number[] = []
  w.page.on('request', () => (inFlight += 1))
  w.page.on('requestfailed', () => (inFlight -= 1))
  w.page.on('requestfinished', (req) => {
    void (async () => {
      // What crossed the wire: headers and the body as sent (compressed, when it was).
      const sizes = await req.sizes()
      bytes += sizes.responseHeadersSize + sizes.responseBodySize
      sent += sizes.requestHeadersSize + sizes.requestBodySize
      const response = await req.response()
      if (new URL(req.url()).pathname === '/api/v1/courses') looks.push(response?.status() ?? 0)
      inFlight -= 1
    })()
  })
  await w.page.clock.pauseAt(Date.now() + 1000)
  for (let second = 0; second < 300; second += 1) {
    await w.page.clock.runFor(1000)
    await waitFor('the page’s requests to finish', async () => inFlight <= 0)
  }
  t.comment(
    `idle: ${bytes} bytes received, ${sent} sent in 5 minutes (${looks.length} looks at the course list: ${looks.filter((s) => s === 304).length} answered 304)`,
  )
  t.ok(looks.length >= 40, `the page kept looking at the seats (${looks.length} looks)`)
  t.ok(
    looks.every((s) => s === 304),
    'nothing changed: every look was a 304',
  )
  t.ok(bytes < 60_000, `five idle minutes cost ${bytes} bytes (before: about 800 KB)`)
  t.same(w.errors, [], 'idle: no script errors')
  await w.context.close()
}
