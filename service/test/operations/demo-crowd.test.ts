/**
 * The demo's crowd against a real instance, and what `sugang demo` says to bad arguments. (The
 * whole demo, countdown and all, runs as a process in test/adapters/demo.test.ts.)
 */
import t from 'tap'
import { runCrowd } from '../../src/demo/crowd.js'
import { studentId } from '../../src/seed.js'
import { PASSWORD, configFrom, isolatedEnv, seedDatabase, startInstance } from '../helper.js'
import { sugang } from '../support/cli.js'

t.test(
  'the crowd logs in, asks at the opening through the API, and tells how it fared',
  async (t) => {
    const env = await isolatedEnv(t, 'crowd')
    const config = configFrom(env)
    await seedDatabase(config, { students: 8, courses: 1, capacity: 3 })
    const app = await startInstance(t, config)
    await app.listen({ host: '127.0.0.1', port: 0 })
    const address = app.server.address()
    const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`
    const lines: string[] = []
    const students = Array.from({ length: 8 }, (_, i) => studentId(i + 1))
    const outcomes = await runCrowd({
      base,
      // One of them with a wrong password: it does not log in, and is not counted as asking.
      students: [...students, 'S999999'],
      password: PASSWORD,
      courseId: 'C0001',
      opensAt: new Date(Date.now() + 300),
      spreadMs: 200,
      report: (line) => lines.push(line),
    })
    t.same(
      Object.fromEntries(outcomes),
      { enrolled: 3, 'rejected:COURSE_FULL': 5 },
      'three seats taken, the rest told the course is full',
    )
    // Logged in before the opening, they wait for it; on a machine slow enough that logging in
    // took past it, they ask at once. Either way the report says which.
    t.match(
      lines[0],
      /^crowd: 8 of 9 students logged in; (at the opening \(\S+\) they ask for C0001|they ask for C0001 now)$/,
    )
    t.match(lines[1], /^crowd: 8 requests sent for C0001, \d of them queued$/)
    t.match(
      lines[2],
      /^crowd: (3 enrolled, 5 rejected \(COURSE_FULL\)|5 rejected \(COURSE_FULL\), 3 enrolled)$/,
    )

    const stop = new AbortController()
    const waiting = runCrowd({
      base,
      students: students.slice(0, 1),
      password: PASSWORD,
      courseId: 'C0001',
      opensAt: new Date(Date.now() + 60_000),
      spreadMs: 0,
      signal: stop.signal,
      report: () => undefined,
    })
    stop.abort(new Error('stopping'))
    await t.rejects(waiting, { message: 'stopping' }, 'a stopping demo stops its crowd')
  },
)

t.test('sugang demo refuses what it cannot run, saying why', async (t) => {
  const env = await isolatedEnv(t, 'democli', 'embedded')
  const errors: string[] = []
  const log = console.error
  console.error = (...parts: unknown[]) => errors.push(parts.join(' '))
  t.teardown(() => {
    console.error = log
  })
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [
      ['--course', 'NOPE'],
      {},
      /--course must be a course of the demo semester, e.g. one of the tiny ones: .*MUS1010-01 \(교양합창, 3\)/,
    ],
    [['--spread', 'soon'], {}, /--spread must be a duration such as 0s, 3s or 1m, got "soon"/],
    [['--crowd', '2000'], {}, /--crowd must be an integer from 0 to 1999/],
    [['--opens-in', 'later'], {}, /REGISTRATION_OPENS_IN must be a duration/],
    [
      [],
      { DATABASE_URL: 'mysql://u@h:3306/db', REDIS_URL: 'redis://h:6379' },
      /sugang demo runs on an embedded store of its own, which it starts over: unset DATABASE_URL and REDIS_URL/,
    ],
  ]
  for (const [args, extra, message] of cases) {
    errors.length = 0
    const run = await sugang(['demo', '--data', env.SQLITE_PATH as string, ...args], {
      ...env,
      ...extra,
    })
    t.equal(run.code, 2, args.join(' ') || 'with MySQL')
    t.match(errors.join('\n'), message)
  }
  const help = await sugang(['demo', '--help'], env)
  t.equal(help.code, 0)
  t.match(help.out, /Usage: sugang demo/)
})
