import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Page } from 'playwright-core'
import t from 'tap'
import type { Decision } from '../../src/domain/model.js'
import {
  configFrom,
  database,
  isolatedEnv,
  login,
  seedDatabase,
  startInstance,
  waitFor,
} from '../helper.js'

/** Screenshots land here (ignored by git): the test's own output folder. */
const SHOTS = join(process.cwd(), 'test-output', 'browser')
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const RIVALS = 30

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true })
}

t.test(
  'a student uses the page through the rush: cart, countdown, live place, result, timetable',
  async (t) => {
    mkdirSync(SHOTS, { recursive: true })
    const env = await isolatedEnv(t, 'browser')
    // Registration opens an hour ahead: however slow the machine, the page shows a countdown.
    // Once the cart is filled the test brings the opening to a few seconds away (below).
    const config = configFrom(env, {
      REGISTRATION_OPENS_AT: new Date(Date.now() + 3_600_000).toISOString(),
    })
    const opensAt = config.registration.opensAt
    if (!opensAt) throw new Error('no opening time')
    await seedDatabase(config, { students: RIVALS + 1, courses: 2, capacity: 5 })
    const db = await database(t, config)
    await db.query(
      `UPDATE courses SET title = '자료구조', professor = '김민준',
       meetings = '[{"day":"MON","start":3,"end":4,"room":"공학관 301"}]' WHERE id = 'C0001'`,
    )
    await db.query(
      `UPDATE courses SET title = '운영체제', professor = '이서연', capacity = 100,
       meetings = '[{"day":"WED","start":5,"end":7,"room":"공학관 502"}]' WHERE id = 'C0002'`,
    )
    // The worker waits: the test lets the queue go at its own pace, then starts it.
    const app = await startInstance(t, config, { worker: false })
    await app.listen({ host: '127.0.0.1', port: 0 })
    const address = app.server.address()
    if (!address || typeof address === 'string') throw new Error('no address')
    const base = `http://127.0.0.1:${address.port}`

    const profile = mkdtempSync(join(tmpdir(), 'sugang-chromium-'))
    // A fresh profile of the test's own: nothing carried over, nothing dialled out.
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 390, height: 844 },
      locale: 'ko-KR',
    })
    t.teardown(async () => {
      await context.close()
      rmSync(profile, { recursive: true, force: true })
    })
    const page = context.pages()[0] ?? (await context.newPage())
    const byTestId = (id: string) => page.getByTestId(id)
    const errors: string[] = []
    page.on('pageerror', (err) => errors.push(err.message))
    page.on('console', (msg) => {
      // The browser reports every 4xx as a console error; the 401s of logging in are expected.
      if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) {
        errors.push(msg.text())
      }
    })

    await page.goto(base)
    await byTestId('login-student-id').fill('S000001')
    await byTestId('login-password').fill('wrong')
    await byTestId('login-submit').click()
    await byTestId('login-error').waitFor({ state: 'visible' })
    await byTestId('login-password').fill('correct horse')
    await byTestId('login-submit').click()
    await byTestId('course-list').waitFor({ state: 'visible' })
    t.match(await byTestId('student-info').textContent(), /S000001/, 'logged in')

    // Before opening: a countdown, and the cart fills.
    const countdown = byTestId('countdown')
    await countdown.waitFor({ state: 'visible' })
    t.ok(Number(await countdown.getAttribute('data-remaining-seconds')) > 0, 'a countdown')
    t.equal(await byTestId('registration-status').getAttribute('data-state'), 'before')
    for (const course of ['C0001', 'C0002']) {
      await page.locator(`[data-testid="cart-toggle"][data-course-id="${course}"]`).click()
      await page
        .locator(`[data-testid="cart-item"][data-course-id="${course}"]`)
        .waitFor({ state: 'visible' })
    }
    await shot(page, '1-before-opening')

    // Rivals log in now and press "enroll" the moment registration opens.
    const rivals: string[] = []
    for (let i = 2; i <= RIVALS + 1; i += 1)
      rivals.push(await login(app, `S${String(i).padStart(6, '0')}`))
    // The opening comes forward to two seconds from now (the instance reads its window on every
    // request); the student reloads, the cart is still there, and the page sees registration open.
    opensAt.setTime(Date.now() + 2_000)
    await page.reload()
    await page
      .locator('[data-testid="registration-status"][data-state="open"]')
      .waitFor({ timeout: 30_000 })
    const rivalRequests = await Promise.all(
      rivals.map(async (cookie) => {
        const res = await app.inject({
          method: 'POST',
          url: '/api/v1/courses/C0001/enrollment-requests',
          headers: { cookie },
          payload: {},
        })
        const body = res.json() as { requestId: string }
        return body.requestId
      }),
    )
    await byTestId('cart-request-button').click()

    // The page shows the student's place in C0001's queue, behind the rivals.
    const status = (course: string) =>
      page.locator(`[data-testid="request-status"][data-course-id="${course}"]`)
    await status('C0001').waitFor({ state: 'visible' })
    const placeOf = async () => Number(await status('C0001').getAttribute('data-position'))
    await waitFor('a place on the page', async () => (await placeOf()) > 0)
    const first = await placeOf()
    t.ok(first > RIVALS - 5, `queued behind the rivals (place ${first})`)
    await shot(page, '2-queued')

    // The queue moves: the page follows, pushed, without a reload.
    const { queue, leases } = app.sugang.rush
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
    const moved = await waitFor('the place to move up', async () => {
      const place = await placeOf()
      return place < first && place
    })
    t.equal(moved, first - decisions.length, 'the place moved up by exactly the requests let go of')
    await shot(page, '3-moved-up')

    // Admission runs: the student is told the results, and sees the timetable.
    app.sugang.worker.start()
    await page
      .locator('[data-testid="request-status"][data-course-id="C0001"][data-status="rejected"]')
      .waitFor({ timeout: 30_000 })
    await page
      .locator('[data-testid="request-status"][data-course-id="C0002"][data-status="enrolled"]')
      .waitFor({ timeout: 30_000 })
    t.match(await status('C0001').textContent(), /정원/, 'the reason, in Korean')
    const [rows] = await db.query("SELECT course_id FROM enrollments WHERE student_id = 'S000001'")
    t.same(rows, [{ course_id: 'C0002' }], 'what the page says is what the database holds')
    await page
      .locator(
        '[data-testid="timetable-cell"][data-day="WED"][data-period="6"][data-course-id="C0002"]',
      )
      .waitFor({ timeout: 15_000 })
    t.match(await byTestId('timetable-credits').textContent(), /3\s*\/\s*18/)
    // The course list catches up on its own: the full course shows no seat left.
    await page
      .locator('[data-testid="course-row"][data-course-id="C0001"][data-seats-left="0"]')
      .waitFor({ timeout: 20_000 })
    await shot(page, '4-results-and-timetable')
    await page.setViewportSize({ width: 1280, height: 900 })
    await page.evaluate('window.scrollTo(0, 0)')
    await page.screenshot({ path: join(SHOTS, '4-desktop.png'), fullPage: true })

    // Cancel from the timetable.
    await page.locator('[data-testid="cancel-button"]').first().click()
    await byTestId('confirm-yes').click()
    await page
      .locator('[data-testid="timetable-cell"][data-course-id="C0002"]')
      .first()
      .waitFor({ state: 'detached', timeout: 15_000 })
    const [after] = await db.query(
      "SELECT COUNT(*) AS n FROM enrollments WHERE student_id = 'S000001'",
    )
    t.equal(Number((after as Array<{ n: number }>)[0]?.n), 0, 'cancelled in the database too')
    await shot(page, '5-cancelled')

    // The full course offers a waitlist place; the student takes it, then gives it up.
    const waitlistButton = page.locator(
      '[data-testid="request-button"][data-course-id="C0001"][data-state="waitlist"]',
    )
    await waitlistButton.click()
    await page
      .locator(
        '[data-testid="request-status"][data-course-id="C0001"][data-status="waitlisted"][data-position="1"]',
      )
      .waitFor({ timeout: 30_000 })
    await shot(page, '6-waitlisted')
    await page.locator('[data-testid="leave-waitlist"]:visible').click()
    t.match(await byTestId('confirm-dialog').textContent(), /대기 취소/, 'asked first, in Korean')
    await byTestId('confirm-yes').click()
    await page
      .locator('[data-testid="request-status"][data-course-id="C0001"][data-status="rejected"]')
      .waitFor({ timeout: 15_000 })
    t.match(await status('C0001').textContent(), /대기를 취소했습니다/)
    const [waiting] = await db.query(
      "SELECT COUNT(*) AS n FROM waitlist WHERE student_id = 'S000001'",
    )
    t.equal(Number((waiting as Array<{ n: number }>)[0]?.n), 0, 'the place is gone in the database')
    await shot(page, '7-left-waitlist')

    t.same(errors, [], 'no script errors on the page')
  },
)
