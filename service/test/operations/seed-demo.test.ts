/**
 * `sugang seed --demo`: the Korean demo semester the embedded store starts with, loaded by the
 * CLI into either store, so that a MySQL deployment's demo has the same courses, meeting times
 * and grade years (the timetable and time conflicts need them).
 */
import t from 'tap'
import { DEMO_PASSWORD } from '../../src/demo/semester.js'
import { configFrom, database, isolatedEnv, STORAGES, startInstance } from '../helper.js'
import { sugang } from '../support/cli.js'

for (const storage of STORAGES) {
  t.test(`${storage}: the demo semester, with meeting times and years`, async (t) => {
    const env = await isolatedEnv(t, 'seeddemo', storage)
    // A numbered seed first: --reset replaces it.
    const numbered = await sugang(
      ['seed', '--students', '3', '--courses', '2', '--capacity', '5', '--password', 'x'],
      env,
    )
    t.equal(numbered.code, 0, numbered.out)
    const seeded = await sugang(['seed', '--demo', '--reset'], env)
    t.equal(seeded.code, 0, seeded.out)
    t.match(seeded.out, /seeded the demo semester: 66 courses and 2000 students/)

    const config = configFrom(env)
    const sql = await database(t, config)
    const [left] = await sql.query<Array<{ n: number }>>(
      "SELECT COUNT(*) AS n FROM courses WHERE id = 'C0001'",
    )
    t.equal(Number(left[0]?.n), 0, 'the numbered courses are gone')
    const [years] = await sql.query<Array<{ year: number }>>(
      'SELECT DISTINCT year FROM students ORDER BY year',
    )
    t.same(
      years.map((r) => Number(r.year)),
      [1, 2, 3, 4],
      'students of every grade year',
    )

    const app = await startInstance(t, config)
    const login = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { studentId: 'S000001', password: DEMO_PASSWORD },
    })
    t.equal(login.statusCode, 200, login.body)
    const cookie = `sugang_session=${login.cookies.find((c) => c.name === 'sugang_session')?.value}`
    const list = await app.inject({ method: 'GET', url: '/api/v1/courses', headers: { cookie } })
    const courses = list.json().courses as Array<{
      id: string
      title: string
      professor: string
      meetings: unknown[]
    }>
    t.equal(courses.length, 66)
    const structures = courses.find((c) => c.id === 'CSE2010-01')
    t.equal(structures?.title, '자료구조')
    t.match(structures?.professor, /^[가-힣]{2,4}$/, 'a Korean name')
    t.ok(
      courses.every((c) => c.meetings.length > 0),
      'every course meets at a time (none "시간 미정")',
    )

    // Seeding again without --reset changes nothing a student sees.
    const again = await sugang(['seed', '--demo'], env)
    t.equal(again.code, 0, again.out)
    const [count] = await sql.query<Array<{ n: number }>>('SELECT COUNT(*) AS n FROM courses')
    t.equal(Number(count[0]?.n), 66)
  })
}

t.test('--demo takes no numbers: they would be ignored', async (t) => {
  const env = await isolatedEnv(t, 'seeddemoargs', 'embedded')
  const errors: string[] = []
  const log = console.error
  console.error = (...parts: unknown[]) => errors.push(parts.join(' '))
  t.teardown(() => {
    console.error = log
  })
  const mixed = await sugang(['seed', '--demo', '--students', '5'], env)
  t.equal(mixed.code, 2)
  t.match(errors.join('\n'), /--demo seeds its own students and courses/)
})
