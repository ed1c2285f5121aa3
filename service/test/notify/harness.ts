/** What the confirmation sender's tests share: a service with real enrollments, and SES. */
import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import type { Test } from 'tap'
import { SesMailer } from '../../src/adapters/ses/mailer.js'
import { loadNotifierConfig, type Config } from '../../src/config.js'
import type { Notifier } from '../../src/notifier.js'
import { createNotifier } from '../../src/wiring/notifier.js'
import { studentId } from '../../src/seed.js'
import {
  configFrom,
  database,
  databaseUrlOf,
  isolatedEnv,
  login,
  seedDatabase,
  startInstance,
  waitFor,
  type Sql,
} from '../helper.js'
import { startFakeSes, type FakeSes } from '../support/fake-aws.js'

export const FROM = 'sugang@example.ac.kr'

export interface Setup {
  app: FastifyInstance
  config: Config
  conn: Sql
  ses: FakeSes
  cookies: Map<string, string>
  /** A sender as the Lambda builds it, with the SES client pointed at the local endpoint. */
  notifier(settings?: Record<string, string>): Promise<Notifier>
}

export async function setup(
  t: Test,
  name: string,
  seed: { students: number; courses: number; capacity: number },
): Promise<Setup> {
  const env = await isolatedEnv(t, name)
  const config = configFrom(env)
  await seedDatabase(config, seed)
  const app = await startInstance(t, config)
  const conn = await database(t, config)
  const ses = await startFakeSes()
  t.teardown(() => ses.close())
  const cookies = new Map<string, string>()
  await Promise.all(
    Array.from({ length: seed.students }, async (_, i) =>
      cookies.set(studentId(i + 1), await login(app, studentId(i + 1))),
    ),
  )
  return {
    app,
    config,
    conn,
    ses,
    cookies,
    async notifier(settings = {}) {
      const notifierConfig = loadNotifierConfig({
        DATABASE_URL: databaseUrlOf(config),
        MAIL_FROM: FROM,
        SITE_URL: 'https://sugang.example.ac.kr/',
        NOTIFY_BACKOFF_BASE_MS: '10',
        NOTIFY_BACKOFF_MAX_MS: '40',
        ...settings,
      })
      const mailer = new SesMailer({
        from: FROM,
        client: {
          endpoint: ses.url,
          region: 'ap-northeast-2',
          credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'example-secret' },
          maxAttempts: 1,
        },
      })
      const notifier = await createNotifier(notifierConfig, {
        log: pino({ level: 'silent' }),
        mailer,
      })
      t.teardown(async () => {
        await notifier.close()
        mailer.destroy()
      })
      return notifier
    },
  }
}

/** Students ask for a seat through the API; resolves once every request is decided. */
export async function enroll(s: Setup, course: string, students: string[], waitlist = false) {
  const ids = await Promise.all(
    students.map(async (student) => {
      const res = await s.app.inject({
        method: 'POST',
        url: `/api/v1/courses/${course}/enrollment-requests`,
        headers: { cookie: s.cookies.get(student) as string },
        payload: waitlist ? { waitlist: true } : {},
      })
      if (res.statusCode !== 202) throw new Error(`enqueue: ${res.statusCode} ${res.body}`)
      return res.json<{ requestId: string }>().requestId
    }),
  )
  await waitFor(`queue of ${course} decided`, async () => {
    return (await s.app.sugang.rush.queue.length(course)) === 0
  })
  return ids
}

export async function enrollmentRows(conn: Sql) {
  const [rows] = await conn.query(
    `SELECT e.request_id, s.email, e.course_id FROM enrollments e
       JOIN students s ON s.id = e.student_id ORDER BY e.request_id`,
  )
  return rows.map((r) => ({
    requestId: String(r.request_id),
    email: String(r.email),
    courseId: String(r.course_id),
  }))
}

export async function outbox(conn: Sql) {
  const [rows] = await conn.query(
    `SELECT request_id, kind, state, attempts, message_id, last_error FROM confirmation_outbox
      ORDER BY id`,
  )
  return rows.map((r) => ({
    requestId: String(r.request_id),
    kind: String(r.kind),
    state: String(r.state),
    attempts: Number(r.attempts),
    messageId: r.message_id === null ? null : String(r.message_id),
    lastError: r.last_error === null ? null : String(r.last_error),
  }))
}

/** Runs the sender until no confirmation is owed any more (pending or sending). */
export async function drain(notifier: Notifier) {
  await waitFor('every confirmation sent or given up', async () => {
    await notifier.run()
    const b = await notifier.backlog()
    return b.pending + b.sending === 0
  })
}

export function count<T>(items: T[]): Map<T, number> {
  const out = new Map<T, number>()
  for (const i of items) out.set(i, (out.get(i) ?? 0) + 1)
  return out
}
