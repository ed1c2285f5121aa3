import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { configFrom, isolatedEnv, seedDatabase, startInstance, waitFor } from '../helper.js'

// The operator controls in force show on the metrics listener (what the alerts and the dashboard
// read): set through the operations of one instance, seen on its own listener at once and on
// another instance's within its refresh, and gone again once lifted.

const CONTROL_METRICS =
  /^(sugang_admission_paused|sugang_admission_paused_since_seconds|sugang_admission_ceiling_per_second|sugang_announcement_active|sugang_registration_window_moved)(\{[^}]*\})? (\S+)$/gm

/** The control series of one scrape of an instance's metrics listener, `name{labels}` -> value. */
async function controlSeries(app: FastifyInstance): Promise<Map<string, number>> {
  const port = app.metrics.address()?.port
  if (!port) throw new Error('the metrics listener is not listening')
  const response = await fetch(`http://127.0.0.1:${port}/metrics`)
  if (response.status !== 200) throw new Error(`the metrics listener answered ${response.status}`)
  const text = await response.text()
  return new Map(
    [...text.matchAll(CONTROL_METRICS)]
      .map((m): [string, number] => [`${m[1]}${m[2] ?? ''}`, Number(m[3])])
      .sort(([a], [b]) => (a < b ? -1 : 1)),
  )
}

/** The series in name order, to compare whatever order the instance wrote them in. */
const sorted = (series: Record<string, number>) =>
  JSON.stringify(Object.entries(series).sort(([a], [b]) => (a < b ? -1 : 1)))

const unix = (iso: string) => Date.parse(iso) / 1000

t.test('every control in force is a series on the metrics listener, until lifted', async (t) => {
  const env = await isolatedEnv(t, 'ctlmetrics')
  const config = configFrom(env)
  await seedDatabase(config, { students: 1, courses: 3 })
  const app = await startInstance(t, config, { worker: false })
  const other = await startInstance(t, config, { worker: false })
  const ops = app.sugang.operations

  t.same(
    Object.fromEntries(await controlSeries(app)),
    { sugang_announcement_active: 0, sugang_registration_window_moved: 0 },
    'no control: no pause or ceiling series, and the two flags at 0',
  )

  await ops.pause('alice', 'C0001', 'seat count under review')
  await ops.pause('bob', '*', 'database failover')
  await ops.throttle('alice', 'C0002', 40, 'slow the popular course')
  await ops.throttle('alice', '*', 300, 'protect the primary')
  await ops.announce('alice', { ko: '점검 중', en: 'Maintenance' }, 'tell everyone')
  const state = await ops.moveWindow(
    'alice',
    { opensAt: new Date('2030-03-02T01:00:00Z') },
    'opening postponed',
  )
  const sinceOf = (course: string) => unix(state.pauses.get(course)?.since ?? '')

  const expected = {
    'sugang_admission_paused{course_id="C0001"}': 1,
    'sugang_admission_paused{course_id="*"}': 1,
    'sugang_admission_paused_since_seconds{course_id="C0001"}': sinceOf('C0001'),
    'sugang_admission_paused_since_seconds{course_id="*"}': sinceOf('*'),
    'sugang_admission_ceiling_per_second{course_id="C0002"}': 40,
    'sugang_admission_ceiling_per_second{course_id="*"}': 300,
    sugang_announcement_active: 1,
    sugang_registration_window_moved: 1,
  }
  t.ok(sinceOf('C0001') > 0 && sinceOf('*') >= sinceOf('C0001'), 'the pauses have start times')
  t.same(Object.fromEntries(await controlSeries(app)), expected, 'at once where they were set')
  await waitFor('the other instance to read the controls', async () => {
    const seen = Object.fromEntries(await controlSeries(other))
    return sorted(seen) === sorted(expected)
  })
  t.pass('and on every other instance within its refresh')

  await ops.resume('alice', 'C0001', 'seat count fixed')
  await ops.resume('bob', '*', 'failover done')
  await ops.unthrottle('alice', 'C0002', 'rush over')
  await ops.unthrottle('alice', '*', 'rush over')
  await ops.unannounce('alice', 'maintenance over')
  t.same(
    Object.fromEntries(await controlSeries(app)),
    // There is no command that takes a window move back; a new move replaces it.
    { sugang_announcement_active: 0, sugang_registration_window_moved: 1 },
    'lifted controls leave no series behind',
  )
})
