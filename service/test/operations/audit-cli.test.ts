/**
 * `sugang audit fairness`, run as operators run it (its own process, on a MySQL database), after
 * a small rush through the service: it says the record holds and exits 0; once an entry is
 * changed behind the service's back it prints the break and exits 1.
 */
import t from 'tap'
import { courseId, studentId } from '../../src/seed.js'
import {
  configFrom,
  database,
  isolatedEnv,
  login,
  seedDatabase,
  startInstance,
  waitFor,
} from '../helper.js'
import { sugangProcess } from '../support/cli.js'

const STUDENTS = 12

/** Runs `sugang audit fairness <args>` to its end: exit code, stdout and stderr. */
function audit(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; out: string; err: string }> {
  return sugangProcess(['audit', 'fairness', ...args], env)
}

t.test('sugang audit fairness on MySQL: holds after a rush, names a changed entry', async (t) => {
  const env = await isolatedEnv(t, 'auditcli', 'mysql-redis')
  const config = configFrom(env)
  await seedDatabase(config, { students: STUDENTS, courses: 2, capacity: 3 })
  const app = await startInstance(t, config)
  const cookies = new Map<string, string>()
  for (let i = 1; i <= STUDENTS; i += 1) cookies.set(studentId(i), await login(app, studentId(i)))
  const [c1, c2] = [courseId(1), courseId(2)]

  // Everyone asks for both courses at once; every other student would wait for a seat.
  const sent = await Promise.all(
    [...cookies].flatMap(([, cookie], i) =>
      [c1, c2].map((course) =>
        app.inject({
          method: 'POST',
          url: `/api/v1/courses/${course}/enrollment-requests`,
          headers: { cookie },
          payload: i % 2 === 0 ? { waitlist: true } : {},
        }),
      ),
    ),
  )
  // Once a course is full the door may turn a request away before it is queued.
  t.ok(
    sent.every((r) => r.statusCode === 202 || r.statusCode === 409),
    'queued, or refused at the door',
  )
  await waitFor('the queues decided', async () => {
    const lengths = await Promise.all([c1, c2].map((c) => app.sugang.rush.queue.length(c)))
    return lengths.every((n) => n === 0)
  })

  // A seat given up: the waitlist's head takes it.
  const sql = await database(t, config)
  const [seated] = await sql.query<Array<{ student_id: string }>>(
    'SELECT student_id FROM enrollments WHERE course_id = ? ORDER BY student_id LIMIT 1',
    [c1],
  )
  const canceller = String(seated[0]?.student_id)
  const cancelled = await app.inject({
    method: 'DELETE',
    url: `/api/v1/me/enrollments/${c1}`,
    headers: { cookie: cookies.get(canceller) as string },
  })
  t.equal(cancelled.statusCode, 204, `${canceller} cancels ${c1}`)
  const [kinds] = await sql.query<Array<{ kind: string; n: number }>>(
    'SELECT kind, COUNT(*) AS n FROM fairness_record WHERE course_id = ? GROUP BY kind ORDER BY kind',
    [c1],
  )
  t.match(
    Object.fromEntries(kinds.map((k) => [k.kind, Number(k.n)])),
    { enrolled: 3, waitlisted: Number, cancelled: 1, promoted: 1 },
    `${c1}'s record holds the rush and the promotion`,
  )
  const [counted] = await sql.query<Array<{ n: number }>>(
    'SELECT COUNT(*) AS n FROM fairness_record',
  )
  const entries = Number(counted[0]?.n)

  const holds = await audit([], env)
  t.equal(holds.code, 0, holds.err)
  t.match(holds.out, /^course\s+entries\s+seats\s+waiting\s+refused\s+head$/m)
  t.match(
    holds.out,
    new RegExp(`^${c1}\\s+\\d+\\s+3/3\\s+\\d+\\s+\\d+\\s+[0-9a-f]{12}\\s+ok$`, 'm'),
  )
  t.match(
    holds.out,
    new RegExp(`^${c2}\\s+\\d+\\s+3/3\\s+\\d+\\s+\\d+\\s+[0-9a-f]{12}\\s+ok$`, 'm'),
  )
  t.match(holds.out, new RegExp(`^2 courses, ${entries} entries: the record holds$`, 'm'))

  const json = await audit(['--json'], env)
  t.equal(json.code, 0, json.err)
  const document = JSON.parse(json.out) as {
    holds: boolean
    courses: Array<{ courseId: string; entries: number; breaks: string[] }>
  }
  t.equal(document.holds, true)
  t.same(
    document.courses.map((c) => [c.courseId, c.breaks]),
    [
      [c1, []],
      [c2, []],
    ],
  )
  t.equal(
    document.courses.reduce((n, c) => n + c.entries, 0),
    entries,
    'every entry was read',
  )

  // An arrival changed behind the service's back.
  const [first] = await sql.query<Array<{ seq: number }>>(
    'SELECT seq FROM fairness_record WHERE course_id = ? AND arrival IS NOT NULL ORDER BY seq LIMIT 1',
    [c1],
  )
  const seq = Number(first[0]?.seq)
  await sql.query(
    'UPDATE fairness_record SET arrival = arrival + 100 WHERE course_id = ? AND seq = ?',
    [c1, seq],
  )
  const broken = await audit([], env)
  t.equal(broken.code, 1, 'exits 1 on a break')
  t.match(broken.out, new RegExp(`^${c1}\\s.*\\s\\d+ BROKEN$`, 'm'))
  t.match(broken.out, new RegExp(`^${c2}\\s.*\\sok$`, 'm'), 'the other course holds')
  t.match(broken.out, `${c1}: entry ${seq}: its hash does not match its content`)
  t.match(broken.out, /^2 courses, \d+ entries: 1 courses BROKEN$/m)

  const brokenJson = await audit(['--json'], env)
  t.equal(brokenJson.code, 1)
  const report = JSON.parse(brokenJson.out) as typeof document
  t.equal(report.holds, false)
  t.match(report.courses.find((c) => c.courseId === c1)?.breaks, [
    `entry ${seq}: its hash does not match its content`,
  ])
  t.same(report.courses.find((c) => c.courseId === c2)?.breaks, [])

  const other = await audit(['--course', c2, '--json'], env)
  t.equal(other.code, 0, 'a course whose record holds, audited alone')
  t.same(
    (JSON.parse(other.out) as typeof document).courses.map((c) => c.courseId),
    [c2],
  )
  const alone = await audit(['--course', c1], env)
  t.equal(alone.code, 1, 'the broken course, audited alone')
  t.match(alone.out, /^1 courses, \d+ entries: 1 courses BROKEN$/m)

  const unknown = await audit(['--course', 'C9999'], env)
  t.equal(unknown.code, 2, 'an unknown course is a usage error')
  t.match(unknown.err, /no course C9999/)
  t.equal(unknown.out, '')
})
