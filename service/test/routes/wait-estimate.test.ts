import { request as httpRequest, type IncomingMessage } from 'node:http'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import {
  configFrom,
  database,
  injectRetrying503,
  isolatedEnv,
  login,
  seedDatabase,
  startInstance,
} from '../helper.js'
import { takeEvents } from '../support/sse.js'

/**
 * The wait estimate against the real wait, in a rush: every student presses "request all" on a
 * cart of six courses at the same moment, and the admission worker decides them at its own pace.
 * A sample of the students follows their requests over the event stream, as the page does; for
 * each request the test records what the stream said first (the place, and the first estimate
 * with when it came) and when the decision arrived. The error of an estimate is what it said
 * minus the wait that was still ahead when it was shown. The numbers go to
 * test-output/wait-estimate.json (docs/student-page.md quotes a run).
 */
const STUDENTS = 1000
const COURSES = 6
const SAMPLE_EVERY = 20

interface Heard {
  readonly at: number
  readonly requestId: string
  readonly status: string
  readonly position?: number
  readonly estimatedWaitSeconds?: number
}

/** Follows requests over the event stream until each is decided; every event with its time. */
function follow(base: string, cookie: string, ids: readonly string[]): Promise<Heard[]> {
  return new Promise((resolve, reject) => {
    const heard: Heard[] = []
    const open = new Set(ids)
    const req = httpRequest(`${base}/api/v1/me/events?requests=${ids.join(',')}`, {
      headers: { cookie, accept: 'text/event-stream' },
    })
    req.on('error', reject)
    req.on('response', (res: IncomingMessage) => {
      if (res.statusCode !== 200) {
        reject(new Error(`stream answered ${res.statusCode}`))
        return
      }
      let buffer = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        const { events, rest } = takeEvents(buffer + chunk)
        buffer = rest
        for (const { event, data } of events) {
          if (event !== 'request' || !data) continue
          const view = JSON.parse(data) as Omit<Heard, 'at'>
          heard.push({ ...view, at: Date.now() })
          if (view.status !== 'queued') open.delete(view.requestId)
          if (open.size === 0) {
            req.destroy()
            resolve(heard)
          }
        }
      })
      res.on('error', () => undefined)
      res.on('end', () => reject(new Error('the stream ended before every decision')))
    })
    req.end()
  })
}

const quantile = (sorted: number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN

t.test(
  'the wait estimate a student is shown, against the wait that followed, in a rush of carts',
  async (t) => {
    const env = await isolatedEnv(t, 'estimate')
    const config = configFrom(env)
    await seedDatabase(config, { students: STUDENTS, courses: COURSES, capacity: STUDENTS })
    const db = await database(t, config)
    // Every cart holds the six courses, in an order of the student's own.
    const rows: string[] = []
    for (let n = 1; n <= STUDENTS; n += 1) {
      const order = Array.from({ length: COURSES }, (_, i) => ((i + n) % COURSES) + 1)
      for (const c of order) {
        rows.push(`('S${String(n).padStart(6, '0')}', 'C${String(c).padStart(4, '0')}')`)
      }
    }
    await db.query(`INSERT INTO cart_items (student_id, course_id) VALUES ${rows.join(', ')}`)

    const app = await startInstance(t, config)
    await app.listen({ host: '127.0.0.1', port: 0 })
    const address = app.server.address()
    if (!address || typeof address === 'string') throw new Error('no address')
    const base = `http://127.0.0.1:${address.port}`
    const cookies: string[] = []
    for (let n = 1; n <= STUDENTS; n += 100) {
      cookies.push(
        ...(await Promise.all(
          Array.from({ length: 100 }, (_, i) => login(app, `S${String(n + i).padStart(6, '0')}`)),
        )),
      )
    }

    // The opening: everyone presses "request all" at once; the sampled students follow theirs.
    const followed = await Promise.all(
      cookies.map(async (cookie, i) => {
        // A 503 is asked again after Retry-After, as the page does.
        const res = await injectRetrying503(app, {
          method: 'POST',
          url: '/api/v1/me/cart/enrollment-requests',
          headers: { cookie },
          payload: {},
        })
        const joinedAt = Date.now()
        if (res.statusCode !== 200) throw new Error(`request all: ${res.statusCode} ${res.body}`)
        const { results } = res.json() as { results: Array<{ requestId?: string }> }
        const ids = results.map((r) => r.requestId).filter((id): id is string => !!id)
        if (i % SAMPLE_EVERY !== 0) return []
        const heard = await follow(base, cookie, ids)
        return ids.map((requestId) => ({
          joinedAt,
          heard: heard.filter((h) => h.requestId === requestId),
        }))
      }),
    )

    const samples = followed.flat()
    t.equal(samples.length, (STUDENTS / SAMPLE_EVERY) * COURSES, 'every sampled request followed')
    const measured = samples.map(({ joinedAt, heard }) => {
      const decided = heard.at(-1) as Heard
      const first = heard.find((h) => h.estimatedWaitSeconds !== undefined)
      return {
        place: heard[0]?.position ?? null,
        waitedSeconds: (decided.at - joinedAt) / 1000,
        estimateAfterSeconds: first ? (first.at - joinedAt) / 1000 : null,
        estimateSeconds: first?.estimatedWaitSeconds ?? null,
        aheadSeconds: first ? (decided.at - first.at) / 1000 : null,
        decision: decided.status,
      }
    })
    for (const [i, { heard }] of samples.entries()) {
      const places = heard.filter((h) => h.status === 'queued').map((h) => h.position ?? 0)
      if (places.some((p, j) => j > 0 && p > (places[j - 1] as number))) {
        t.fail(`sample ${i}: a place went back: ${places.join(' → ')}`)
      }
      if (heard.some((h) => h.estimatedWaitSeconds !== undefined && h.status !== 'queued')) {
        t.fail(`sample ${i}: an estimate came with a decision`)
      }
    }
    t.ok(
      measured.every((m) => m.decision === 'enrolled'),
      'every sampled request was decided and told over the stream',
    )

    const estimated = measured.filter((m) => m.estimateSeconds !== null)
    const errors = estimated
      .map((m) => (m.estimateSeconds as number) - (m.aheadSeconds as number))
      .sort((a, b) => a - b)
    const absolute = errors.map(Math.abs).sort((a, b) => a - b)
    const waits = measured.map((m) => m.waitedSeconds).sort((a, b) => a - b)
    const summary = {
      requests: measured.length,
      waitedSeconds: { p50: quantile(waits, 0.5), p90: quantile(waits, 0.9), max: waits.at(-1) },
      withEstimate: estimated.length,
      estimateAfterSeconds: quantile(
        estimated.map((m) => m.estimateAfterSeconds as number).sort((a, b) => a - b),
        0.5,
      ),
      errorSeconds: {
        p10: quantile(errors, 0.1),
        p50: quantile(errors, 0.5),
        p90: quantile(errors, 0.9),
        absoluteP50: quantile(absolute, 0.5),
        absoluteP90: quantile(absolute, 0.9),
        absoluteMax: absolute.at(-1) ?? null,
      },
    }
    const out = join(process.cwd(), 'test-output')
    mkdirSync(out, { recursive: true })
    writeFileSync(
      join(out, 'wait-estimate.json'),
      `${JSON.stringify({ summary, measured }, null, 2)}\n`,
    )
    t.comment(JSON.stringify(summary))
  },
)
