import t from 'tap'
import { audit, launchChromium } from './chromium.js'
import {
  configFrom,
  database,
  isolatedEnv,
  login,
  PASSWORD,
  seedDatabase,
  startInstance,
} from '../helper.js'

const LONG = 30_000

interface RecordAnswer {
  arrival: number | null
  arrivedBefore: number | null
  digest: { courseId: string; entries: number; head: string }
}

t.test(
  "a decided request's row opens its place in the fairness record, read once when opened",
  async (t) => {
    const env = await isolatedEnv(t, 'record-page')
    // Registration is open; no admission worker: the test decides each course when it wants.
    const config = configFrom(env)
    await seedDatabase(config, { students: 3, courses: 2, capacity: 10 })
    const db = await database(t, config)
    const app = await startInstance(t, config, { worker: false })
    await app.listen({ host: '127.0.0.1', port: 0 })
    const address = app.server.address()
    if (!address || typeof address === 'string') throw new Error('no address')
    const base = `http://127.0.0.1:${address.port}`

    // A rival's request for C0001 arrives first.
    const rival = await login(app, 'S000002')
    const ahead = await app.inject({
      method: 'POST',
      url: '/api/v1/courses/C0001/enrollment-requests',
      headers: { cookie: rival },
      payload: {},
    })
    t.equal(ahead.statusCode, 202, "the rival's request is queued")

    const browser = await launchChromium(t)
    const context = await browser.newContext({
      viewport: { width: 1280, height: 800 },
      locale: 'ko-KR',
    })
    const p = await context.newPage()
    const errors: string[] = []
    p.on('pageerror', (err) => errors.push(err.message))
    /** The page's reads of a request's record. */
    const reads: string[] = []
    p.on('request', (req) => {
      const path = new URL(req.url()).pathname
      if (/^\/api\/v1\/enrollment-requests\/[^/]+\/record$/.test(path)) reads.push(path)
    })

    await p.goto(base)
    await p.getByTestId('login-student-id').fill('S000001')
    await p.getByTestId('login-password').fill(PASSWORD)
    await p.getByTestId('login-submit').click()
    await p.locator('[data-testid="course-row"]').first().waitFor()

    // Queued: no disclosure, nothing read.
    await p.locator('[data-testid="request-button"][data-course-id="C0001"]').click()
    const row = p.locator('[data-testid="request-status"][data-course-id="C0001"]')
    await row.and(p.locator('[data-status="queued"]')).waitFor({ timeout: LONG })
    const toggle = row.getByTestId('record-toggle')
    t.notOk(await toggle.isVisible(), 'a queued request offers no record')
    const queuedHeight = (await row.boundingBox())?.height

    // Decided: the button appears on the row's last line, and still nothing is read.
    await app.sugang.worker.drain('C0001')
    await row.and(p.locator('[data-status="enrolled"]')).waitFor({ timeout: LONG })
    await toggle.waitFor()
    t.equal((await row.boundingBox())?.height, queuedHeight, 'the row is as tall as before')
    t.equal(await toggle.textContent(), '공정성 기록')
    t.equal(await toggle.getAttribute('aria-expanded'), 'false')
    t.same(reads, [], 'not read before it is opened')

    // Opened: one read, and what the page says is what the API answers.
    await toggle.click()
    t.equal(await toggle.getAttribute('aria-expanded'), 'true')
    const panel = row.getByTestId('record-panel')
    t.equal(await panel.getAttribute('role'), 'region')
    t.equal(await panel.getAttribute('aria-labelledby'), await toggle.getAttribute('id'))
    t.equal(await toggle.getAttribute('aria-controls'), await panel.getAttribute('id'))
    await panel.and(p.locator('[data-state="loaded"]')).waitFor({ timeout: LONG })
    const requestId = await row.getAttribute('data-request-id')
    const answer = await context.request.get(
      `${base}/api/v1/enrollment-requests/${requestId}/record`,
    )
    t.equal(answer.status(), 200)
    const record = (await answer.json()) as RecordAnswer
    t.equal(record.arrival, 2, 'second to arrive')
    t.equal(record.arrivedBefore, 1)
    t.equal(await panel.getByTestId('record-arrival').textContent(), '접수 번호 2')
    t.equal(
      await panel.getByTestId('record-before').textContent(),
      '이 과목에 나보다 먼저 접수된 신청 1건',
    )
    t.equal(await panel.getByTestId('record-hash').textContent(), record.digest.head.slice(0, 12))
    t.match(
      await panel.getByTestId('record-digest').textContent(),
      new RegExp(
        `^과목 기록 요약: 항목 ${record.digest.entries}개 · 해시 ${record.digest.head.slice(0, 12)} \\(\\d\\d:\\d\\d:\\d\\d 기준\\)$`,
      ),
    )
    t.equal(record.digest.entries, 2, "the course's two decisions")
    t.match(await panel.getByTestId('record-explain').textContent(), /누구나 저장해 둘 수 있습니다/)
    t.equal(reads.length, 1, 'one read when opened')
    await audit(t, p, 'the fairness record open')

    // In English: drawn again from what was read, not read again.
    await p.getByTestId('lang-switch').click()
    await toggle.and(p.locator(':text-is("Fairness record")')).waitFor()
    t.equal(await panel.getByTestId('record-arrival').textContent(), 'Arrival number 2')
    t.equal(
      await panel.getByTestId('record-before').textContent(),
      '1 request to this course arrived before yours',
    )
    t.match(
      await panel.getByTestId('record-digest').textContent(),
      /^Course record digest: 2 entries · hash /,
    )
    t.equal(reads.length, 1, 'a new language reads nothing')
    await p.getByTestId('lang-switch').click()
    await toggle.and(p.locator(':text-is("공정성 기록")')).waitFor()

    // Closed, then opened again: one more read.
    await toggle.click()
    await panel.waitFor({ state: 'hidden' })
    t.equal(await toggle.getAttribute('aria-expanded'), 'false')
    await toggle.click()
    await panel.and(p.locator('[data-state="loaded"]')).waitFor({ timeout: LONG })
    t.equal(reads.length, 2, 'each opening reads once')

    // A request decided without an entry (as before the record was kept): said so plainly.
    await p.locator('[data-testid="request-button"][data-course-id="C0002"]').click()
    const other = p.locator('[data-testid="request-status"][data-course-id="C0002"]')
    await other.and(p.locator('[data-status="queued"]')).waitFor({ timeout: LONG })
    await app.sugang.worker.drain('C0002')
    await other.and(p.locator('[data-status="enrolled"]')).waitFor({ timeout: LONG })
    const otherId = await other.getAttribute('data-request-id')
    await db.query('DELETE FROM fairness_record WHERE request_id = ?', [otherId])
    await other.getByTestId('record-toggle').click()
    const missing = other.getByTestId('record-panel')
    await missing.and(p.locator('[data-state="error"]')).waitFor({ timeout: LONG })
    t.equal(await missing.getAttribute('data-code'), 'NOT_RECORDED')
    t.equal(
      await missing.getByTestId('record-status').textContent(),
      '이 신청은 공정성 기록 없이 처리되었습니다. 기록을 남기기 전에 처리된 신청에는 기록이 없습니다.',
    )
    t.notOk(await missing.getByTestId('record-arrival').isVisible(), 'no number is shown')
    t.notOk(await missing.getByTestId('record-retry').isVisible(), 'nothing to try again')
    await audit(t, p, 'two records open, one not recorded')

    t.same(errors, [], 'no script errors')
  },
)
