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
import { sugang } from '../support/cli.js'
import { startFakeSes } from '../support/fake-aws.js'

t.test('sugang notify sends what is due from the embedded store, once', async (t) => {
  const env = await isolatedEnv(t, 'notifycli', 'embedded')
  const config = configFrom(env)
  await seedDatabase(config, { students: 6, courses: 1, capacity: 5 })
  const app = await startInstance(t, config)
  for (let i = 1; i <= 6; i += 1) {
    const res = await app.inject({
      method: 'POST',
      url: `/api/v1/courses/${courseId(1)}/enrollment-requests`,
      headers: { cookie: await login(app, studentId(i)) },
      payload: {},
    })
    // The sixth may be turned away at the door once the five seats are taken.
    t.ok([202, 409].includes(res.statusCode), `request ${i}: ${res.statusCode}`)
  }
  await waitFor(
    'the queue decided',
    async () => (await app.sugang.rush.queue.length(courseId(1))) === 0,
  )

  const ses = await startFakeSes()
  t.teardown(() => ses.close())
  // Every other call is throttled: the command keeps going until nothing is due.
  ses.respond = (_to, call) =>
    call % 2 === 0
      ? { status: 429, type: 'TooManyRequestsException', message: 'Maximum sending rate exceeded.' }
      : undefined
  const notifyEnv = {
    SQLITE_PATH: env.SQLITE_PATH ?? '',
    MAIL_FROM: 'sugang@example.ac.kr',
    LOG_LEVEL: 'silent',
    NOTIFY_BACKOFF_BASE_MS: '0',
    NOTIFY_BACKOFF_MAX_MS: '0',
    AWS_REGION: 'ap-northeast-2',
    AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'example-secret',
    AWS_ENDPOINT_URL_SESV2: ses.url,
  }
  const first = await sugang(['notify'], notifyEnv)
  t.equal(first.code, 0)
  t.match(JSON.parse(first.out), {
    sent: 5,
    dead: 0,
    backlog: { pending: 0, sending: 0, dead: 0 },
  })
  t.equal(ses.accepted.length, 5, 'five enrolled, five e-mails (the sixth student was refused)')
  t.equal(new Set(ses.accepted.map((m) => m.to)).size, 5)

  const again = await sugang(['notify'], notifyEnv)
  t.match(JSON.parse(again.out), { claimed: 0, sent: 0 })
  t.equal(ses.accepted.length, 5, 'a second run sends nothing')

  const conn = await database(t, config)
  const [rows] = await conn.query(
    'SELECT state, COUNT(*) AS n FROM confirmation_outbox GROUP BY state',
  )
  t.same(
    rows.map((r) => [r.state, Number(r.n)]),
    [['sent', 5]],
  )
})

t.test('a dead confirmation is sent again with --retry-dead once its cause is fixed', async (t) => {
  const env = await isolatedEnv(t, 'notifyredrive', 'embedded')
  const config = configFrom(env)
  await seedDatabase(config, { students: 2, courses: 1, capacity: 2 })
  const app = await startInstance(t, config)
  const conn = await database(t, config)
  await conn.query(`UPDATE students SET email = 'broken' WHERE id = ?`, [studentId(1)])
  for (const i of [1, 2]) {
    const res = await app.inject({
      method: 'POST',
      url: `/api/v1/courses/${courseId(1)}/enrollment-requests`,
      headers: { cookie: await login(app, studentId(i)) },
      payload: {},
    })
    t.equal(res.statusCode, 202)
  }
  await waitFor(
    'the queue decided',
    async () => (await app.sugang.rush.queue.length(courseId(1))) === 0,
  )
  const ses = await startFakeSes()
  t.teardown(() => ses.close())
  ses.respond = (to) =>
    to === 'broken'
      ? { status: 400, type: 'MessageRejected', message: 'Illegal address' }
      : undefined
  const notifyEnv = {
    SQLITE_PATH: env.SQLITE_PATH ?? '',
    MAIL_FROM: 'sugang@example.ac.kr',
    LOG_LEVEL: 'silent',
    AWS_REGION: 'ap-northeast-2',
    AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'example-secret',
    AWS_ENDPOINT_URL_SESV2: ses.url,
  }
  t.match(JSON.parse((await sugang(['notify'], notifyEnv)).out), {
    sent: 1,
    dead: 1,
    backlog: { dead: 1 },
  })
  await conn.query(`UPDATE students SET email = 's1@example.ac.kr' WHERE id = ?`, [studentId(1)])
  const redrive = await sugang(['notify', '--retry-dead'], notifyEnv)
  t.equal(redrive.code, 0)
  t.match(redrive.out, /^1 dead confirmation\(s\) will be sent again$/)
  t.match(JSON.parse((await sugang(['notify'], notifyEnv)).out), {
    sent: 1,
    backlog: { pending: 0, dead: 0 },
  })
  t.same(
    ses.accepted.map((m) => m.to).sort(),
    ['s1@example.ac.kr', ses.accepted.find((m) => m.to !== 's1@example.ac.kr')?.to].sort(),
    'each student got exactly one e-mail',
  )
  t.equal(ses.accepted.length, 2)
})

t.test('sugang notify refuses to start without a sender address', async (t) => {
  const errors: string[] = []
  const error = console.error
  console.error = (...parts: unknown[]) => errors.push(parts.join(' '))
  t.teardown(() => {
    console.error = error
  })
  const { code } = await sugang(['notify'], { MAIL_FROM: '' })
  t.equal(code, 2)
  t.match(errors.join('\n'), /MAIL_FROM must be the sender address/)
})
