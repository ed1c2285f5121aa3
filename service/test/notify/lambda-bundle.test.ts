import { execFile, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'
import { courseId, studentId } from '../../src/seed.js'
import { databaseUrlOf } from '../helper.js'
import { startFakeSecretsManager, startFakeSes } from '../support/fake-aws.js'
import { count, enroll, outbox, setup } from './harness.js'

const SERVICE_DIR = fileURLToPath(new URL('../../', import.meta.url))
const BUNDLE = fileURLToPath(new URL('../../dist/lambda/notify-email/index.mjs', import.meta.url))
const SECRET_ARN =
  'arn:aws:secretsmanager:ap-northeast-2:111111111111:secret:sugang-small/db-master-AbCdEf'

/** Loads the bundle as Lambda does and invokes its handler `times` times (one warm function). */
const INVOKE = `
const { handler } = await import(process.env.BUNDLE)
for (let i = 0; i < Number(process.env.TIMES); i += 1) {
  await handler({ source: 'aws.events' }, {
    functionName: 'sugang-small-notify-email',
    getRemainingTimeInMillis: () => 60000,
  })
}
// Lambda freezes a warm function with its pool open; this stand-in simply ends.
process.exit(0)
`

function invoke(env: Record<string, string>, times: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', INVOKE], {
      // Only what a Lambda function's environment holds: no test settings leak in.
      env: { PATH: process.env.PATH ?? '', ...env, BUNDLE, TIMES: String(times) },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    child.on('error', reject)
    child.on('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`handler exited ${code}: ${err}${out}`)),
    )
  })
}

t.test(
  'the bundled Lambda sends one e-mail per enrollment across warm runs and concurrent functions',
  async (t) => {
    await promisify(execFile)('npm', ['run', 'bundle:notify'], { cwd: SERVICE_DIR })
    t.ok(existsSync(BUNDLE), 'npm run bundle:notify built the bundle the notify stack ships')

    const s = await setup(t, 'lambda', { students: 40, courses: 2, capacity: 40 })
    const students = Array.from({ length: 40 }, (_, i) => studentId(i + 1))
    await enroll(s, courseId(1), students)
    await enroll(s, courseId(2), students.slice(0, 20))

    const secrets = await startFakeSecretsManager()
    t.teardown(() => secrets.close())
    const db = new URL(databaseUrlOf(s.config))
    secrets.secrets.set(
      SECRET_ARN,
      JSON.stringify({
        username: decodeURIComponent(db.username),
        password: decodeURIComponent(db.password),
        engine: 'mysql',
      }),
    )
    const sesDown = await startFakeSes()
    await sesDown.close()

    // The variables the notify stack sets on the function, and what Lambda itself provides.
    const env = {
      NODE_ENV: 'production',
      NODE_OPTIONS: '--enable-source-maps',
      DATABASE_HOST: db.hostname,
      DATABASE_PORT: db.port || '3306',
      DATABASE_NAME: db.pathname.slice(1),
      DATABASE_SECRET_ARN: SECRET_ARN,
      MAIL_FROM: 'sugang@example.ac.kr',
      SITE_URL: 'https://sugang-small.example.ac.kr/',
      AWS_REGION: 'ap-northeast-2',
      AWS_ACCESS_KEY_ID: 'ASIAEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'example-secret',
      AWS_SESSION_TOKEN: 'example-token',
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.url,
      AWS_ENDPOINT_URL_SESV2: s.ses.url,
    }

    // A third of SES's answers are throttling; two functions run at once, each invoked twice.
    s.ses.respond = () =>
      Math.random() < 0.33
        ? {
            status: 429,
            type: 'TooManyRequestsException',
            message: 'Maximum sending rate exceeded.',
          }
        : undefined
    const quick = { ...env, NOTIFY_BACKOFF_BASE_MS: '0', NOTIFY_BACKOFF_MAX_MS: '0' }
    const outputs = await Promise.all([invoke(quick, 2), invoke(quick, 2)])
    t.equal(secrets.reads, 2, 'each function read the database secret once, at its cold start')

    s.ses.respond = undefined
    outputs.push(await invoke(quick, 1))
    const metrics = outputs
      .join('')
      .split('\n')
      .filter((line) => line.includes('"_aws"'))
      .map((line) => JSON.parse(line) as Record<string, number>)
    t.equal(metrics.length, 5, 'every run wrote its metrics line')
    const sent = metrics.reduce((sum, m) => sum + (m.ConfirmationsSent ?? 0), 0)

    const rows = await outbox(s.conn)
    t.equal(rows.length, 60)
    t.ok(
      rows.every((r) => r.state === 'sent'),
      'every confirmation is sent',
    )
    t.equal(sent, 60, 'the metrics count every message once')
    t.equal(metrics.at(-1)?.ConfirmationsPending, 0)
    const perMessage = count(s.ses.accepted.map((m) => `${m.to} ${m.tags.course}`))
    t.equal(perMessage.size, 60)
    t.ok(
      [...perMessage.values()].every((n) => n === 1),
      'SES accepted exactly one message per enrollment',
    )
    t.match(s.ses.accepted[0]?.text, /https:\/\/sugang-small\.example\.ac\.kr\//)

    // A run that cannot reach SES at all leaves everything owed, and says so in its metrics.
    await enroll(s, courseId(2), students.slice(20, 25))
    const down = await invoke({ ...env, AWS_ENDPOINT_URL_SESV2: sesDown.url }, 1)
    const [line] = down.split('\n').filter((l) => l.includes('"_aws"'))
    t.match(JSON.parse(line ?? '{}'), {
      ConfirmationsSent: 0,
      ConfirmationsRetried: 5,
      ConfirmationsPending: 5,
    })
    t.equal(
      (await outbox(s.conn)).filter((r) => r.state === 'pending').length,
      5,
      'the five new ones wait for the next run',
    )
  },
)
