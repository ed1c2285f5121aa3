import { randomBytes } from 'node:crypto'
import mysql from 'mysql2/promise'
import { pino } from 'pino'
import t from 'tap'
import { SesMailer } from '../../src/adapters/ses/mailer.js'
import { loadNotifierConfig } from '../../src/config.js'
import { createNotifier } from '../../src/wiring/notifier.js'
import { courseId, studentId } from '../../src/seed.js'
import {
  MYSQL_ROOT,
  configFrom,
  databaseUrlOf,
  isolatedEnv,
  login,
  seedDatabase,
  startInstance,
  waitFor,
} from '../helper.js'
import { sugang } from '../support/cli.js'
import { startFakeSes } from '../support/fake-aws.js'

function urlAs(databaseUrl: string, user: string, password: string): string {
  const url = new URL(databaseUrl)
  url.username = user
  url.password = password
  return url.toString()
}

/** 'allowed', or the MySQL error code that refused the login or the statement. */
async function denied(sql: string, url: string): Promise<string> {
  let conn: mysql.Connection | undefined
  try {
    conn = await mysql.createConnection({ uri: url })
    await conn.query(sql)
    return 'allowed'
  } catch (err) {
    return String((err as { code?: string }).code)
  } finally {
    await conn?.end()
  }
}

t.test(
  'the service and the e-mail sender run as users that may do their work and nothing more',
  async (t) => {
    const env = await isolatedEnv(t, 'dbusers')
    const config = configFrom(env)
    const adminUrl = databaseUrlOf(config)
    const database = new URL(adminUrl).pathname.slice(1)
    const suffix = randomBytes(3).toString('hex')
    const app = { user: `app_${suffix}`, password: randomBytes(12).toString('base64url') }
    const notify = { user: `notify_${suffix}`, password: randomBytes(12).toString('base64url') }
    t.teardown(async () => {
      const root = await mysql.createConnection({ uri: MYSQL_ROOT })
      await root.query(`DROP USER IF EXISTS ?@'%', ?@'%'`, [app.user, notify.user])
      await root.end()
    })
    const users = {
      DATABASE_URL: adminUrl,
      APP_DATABASE_USER: app.user,
      APP_DATABASE_PASSWORD: app.password,
      NOTIFY_DATABASE_USER: notify.user,
      NOTIFY_DATABASE_PASSWORD: notify.password,
    }
    const first = await sugang(['database-users'], users)
    t.equal(first.code, 0)
    t.match(first.out, new RegExp(`users ${app.user} \\(service\\) and ${notify.user}`))
    t.equal((await sugang(['database-users'], users)).code, 0, 'a second run changes nothing')

    // The service, as its user: migrates at start-up, serves, commits enrollments.
    const appUrl = urlAs(adminUrl, app.user, app.password)
    await seedDatabase(config, { students: 3, courses: 1, capacity: 2 })
    const service = await startInstance(t, configFrom(env, { DATABASE_URL: appUrl }))
    for (const n of [1, 2, 3]) {
      const res = await service.inject({
        method: 'POST',
        url: `/api/v1/courses/${courseId(1)}/enrollment-requests`,
        headers: { cookie: await login(service, studentId(n)) },
        payload: {},
      })
      t.ok([202, 409].includes(res.statusCode), `request ${n}: ${res.statusCode}`)
    }
    await waitFor(
      'the queue decided',
      async () => (await service.sugang.rush.queue.length(courseId(1))) === 0,
    )

    // The sender, as its user: reads what the e-mail says and records what it sent.
    const notifyUrl = urlAs(adminUrl, notify.user, notify.password)
    const ses = await startFakeSes()
    t.teardown(() => ses.close())
    const mailer = new SesMailer({
      from: 'sugang@example.ac.kr',
      client: {
        endpoint: ses.url,
        region: 'ap-northeast-2',
        credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'example-secret' },
      },
    })
    const notifier = await createNotifier(
      loadNotifierConfig({ DATABASE_URL: notifyUrl, MAIL_FROM: 'sugang@example.ac.kr' }),
      { log: pino({ level: 'silent' }), mailer },
    )
    t.teardown(async () => {
      await notifier.close()
      mailer.destroy()
    })
    t.match(await notifier.run(), { sent: 2, dead: 0 })
    t.equal(ses.accepted.length, 2)

    // Nothing more.
    t.equal(await denied('DROP TABLE cart_items', appUrl), 'ER_TABLEACCESS_DENIED_ERROR')
    t.equal(await denied('DELETE FROM enrollments', notifyUrl), 'ER_TABLEACCESS_DENIED_ERROR')
    t.equal(
      await denied(
        `INSERT INTO students (id, name, email, password_hash) VALUES ('X', 'x', 'x', 'x')`,
        notifyUrl,
      ),
      'ER_TABLEACCESS_DENIED_ERROR',
    )
    t.equal(await denied('SELECT * FROM cart_items', notifyUrl), 'ER_TABLEACCESS_DENIED_ERROR')
    t.equal(
      await denied('DELETE FROM confirmation_outbox', notifyUrl),
      'ER_TABLEACCESS_DENIED_ERROR',
    )
    t.equal(await denied(`CREATE DATABASE other_${suffix}`, appUrl), 'ER_DBACCESS_DENIED_ERROR')
    t.equal(await denied(`SELECT 1 FROM ${database}.students LIMIT 1`, appUrl), 'allowed')
  },
)

t.test('a rotated password takes effect, and the old one stops working', async (t) => {
  const env = await isolatedEnv(t, 'dbrotate')
  const adminUrl = databaseUrlOf(configFrom(env))
  const suffix = randomBytes(3).toString('hex')
  const user = `app_${suffix}`
  t.teardown(async () => {
    const root = await mysql.createConnection({ uri: MYSQL_ROOT })
    await root.query(`DROP USER IF EXISTS ?@'%', ?@'%'`, [user, `notify_${suffix}`])
    await root.end()
  })
  const run = (password: string) =>
    sugang(['database-users'], {
      DATABASE_URL: adminUrl,
      APP_DATABASE_USER: user,
      APP_DATABASE_PASSWORD: password,
      NOTIFY_DATABASE_USER: `notify_${suffix}`,
      NOTIFY_DATABASE_PASSWORD: 'notifier-password',
    })
  t.equal((await run('first-password')).code, 0)
  t.equal(await denied('SELECT 1', urlAs(adminUrl, user, 'first-password')), 'allowed')
  t.equal((await run('second-password')).code, 0)
  t.equal(await denied('SELECT 1', urlAs(adminUrl, user, 'second-password')), 'allowed')
  t.equal(
    await denied('SELECT 1', urlAs(adminUrl, user, 'first-password')),
    'ER_ACCESS_DENIED_ERROR',
  )
})

t.test('database-users refuses to run without the users it is to create', async (t) => {
  const errors: string[] = []
  const error = console.error
  console.error = (...parts: unknown[]) => errors.push(parts.join(' '))
  t.teardown(() => {
    console.error = error
  })
  const { code } = await sugang(['database-users'], {
    DATABASE_URL: 'mysql://root@127.0.0.1:3306/sugang',
    APP_DATABASE_PASSWORD: 'x',
  })
  t.equal(code, 2)
  t.match(
    errors.join('\n'),
    /NOTIFY_DATABASE_SECRET_ARN \(or NOTIFY_DATABASE_PASSWORD\) is required/,
  )
})
