import { createHash, randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import {
  dataDirectory,
  duration,
  loadConfig,
  loadDatabaseUsersConfig,
  loadNotifierConfig,
} from './config.js'
import { ConfigError } from './errors.js'
import { generateOpenapi } from './openapi.js'
import { seed as seedNumbered, type SeedStore } from './seed.js'
import { runCrowd } from './demo/crowd.js'
import {
  DEMO_PASSWORD,
  DEMO_STUDENTS,
  demoSemester,
  demoStudentId,
  seedDemo,
} from './demo/semester.js'
import { serve } from './server.js'
import { LoginGuard } from './domain/logins.js'
import { auditRecord, type CourseAudit } from './domain/fairness.js'
import { EVERY_COURSE } from './domain/operations.js'
import { canonicalStudentId } from './domain/students.js'
import { ThrottledLog } from './logging/throttled-log.js'
import {
  clearRushState,
  createAdapters,
  openSqliteStore,
  openStore,
  pageUrl,
} from './wiring/adapters.js'
import { pino } from 'pino'

const USAGE = `Usage: sugang <command> [options]

Commands:
  admin     opening-day controls of a running service: pause, throttle, move the opening,
            announce, and the audit of who did what (admin token NAME makes an operator token)
  audit     check the fairness record: first come, first served, and nothing rewritten
  migrate   create or upgrade the database schema (idempotent)
  notify    send the confirmation e-mails that are due (what the e-mail Lambda runs)
  database-users
            create or update the service's and the e-mail sender's MySQL users (as master)
  openapi   print the HTTP contract as an OpenAPI 3 document
  demo      the rush minute on one machine: a countdown, then a simulated crowd at the opening
  seed      create demo or load-test students and courses
  serve     run the service: HTTP API, admission worker and metrics (SERVICE_ROLE splits them)
  unlock    lift a student id's login lock (ACCOUNT_LOCKED) early

Run "sugang <command> --help" for a command's options. Configuration comes from the
environment: DATABASE_URL, DATABASE_REPLICA_URL, REDIS_URL, SESSION_SECRET, PORT, HOST,
METRICS_PORT (see the README). With neither DATABASE_URL nor REDIS_URL set, sugang runs on
an embedded store (SQLITE_PATH, default service/data/sugang.sqlite wherever sugang is run
from) with a demo semester.`

const SEED_USAGE = `Usage: sugang seed --demo [--password P] [--reset]
       sugang seed --students N --courses M --capacity C|MIN-MAX --password P [--reset]

--demo loads the demo semester a new embedded store starts with: 66 courses of a Korean
university's spring term (titles, professors, rooms and weekly meeting times) and 2,000
students S000001..S002000 in years 1-4, all with the password sugang-demo (or P).

Otherwise it creates students S000001..S<N>, all with password P, and courses C0001..C<M>
(no meeting times) with capacity C, or capacities spread evenly from MIN to MAX.

Either way the passwords are hashed with a cheap scrypt cost that is recorded in the hash:
for demo and load-test data only. Seeding again updates what is there (passwords, larger
capacities); --reset first deletes all students, courses, enrollments, waitlist entries and
cart items, and the queue state in Redis when REDIS_URL is set.

Without DATABASE_URL and REDIS_URL it writes to the embedded store (SQLITE_PATH); a running
"sugang serve" on that store keeps its queue in memory, so restart it after --reset.`

function positive(value: string | undefined, name: string, max: number): number {
  const n = Number(value)
  if (value === undefined || !Number.isInteger(n) || n < 0 || n > max) {
    throw new ConfigError(`--${name} must be an integer from 0 to ${max}`)
  }
  return n
}

const capacityText = (c: number | [number, number]): string =>
  typeof c === 'number' ? String(c) : `${c[0]}-${c[1]}`

function capacityArgument(value: string | undefined): number | [number, number] {
  const range = value?.match(/^(\d+)-(\d+)$/)
  if (!range) return positive(value, 'capacity', 100_000)
  const min = positive(range[1], 'capacity', 100_000)
  const max = positive(range[2], 'capacity', 100_000)
  if (min > max) throw new ConfigError('--capacity MIN-MAX needs MIN <= MAX')
  return [min, max]
}

/** The embedded store's file this environment names, for a command's help. */
function whereEmbedded(): string {
  try {
    const { storage } = loadConfig()
    return storage.kind === 'embedded' ? `\n\nThe embedded store here: ${storage.sqlitePath}` : ''
  } catch {
    return ''
  }
}

async function seed(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      demo: { type: 'boolean', default: false },
      students: { type: 'string' },
      courses: { type: 'string' },
      capacity: { type: 'string' },
      password: { type: 'string' },
      reset: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  })
  if (values.help) {
    console.log(`${SEED_USAGE}${whereEmbedded()}`)
    return
  }
  const reset = values.reset
  let write: (store: SeedStore) => Promise<string>
  if (values.demo) {
    if ([values.students, values.courses, values.capacity].some((v) => v !== undefined)) {
      throw new ConfigError(
        '--demo seeds its own students and courses: leave out --students, --courses and --capacity',
      )
    }
    const password = values.password
    if (password === '') throw new ConfigError('--password must not be empty')
    write = async (store) => {
      const seeded = await seedDemo(store, { reset, password })
      return `seeded the demo semester: ${seeded.courses} courses and ${seeded.students} students`
    }
  } else {
    const students = positive(values.students, 'students', 999_999)
    const courses = positive(values.courses, 'courses', 9_999)
    const capacity = capacityArgument(values.capacity)
    if (!values.password) throw new ConfigError('--password is required (or --demo)')
    const options = { students, courses, capacity, password: values.password, reset }
    write = async (store) => {
      await seedNumbered(store, options)
      return `seeded ${students} students and ${courses} courses of capacity ${capacityText(capacity)}`
    }
  }

  const config = loadConfig()
  const { storage } = config
  const store = await openStore(storage, { tls: config.databaseTls, poolSize: 2 })
  try {
    await store.migrate()
    const done = await write(store)
    if (reset) await clearRushState(config)
    console.log(storage.kind === 'embedded' ? `${done} into ${storage.sqlitePath}` : done)
  } finally {
    await store.close()
  }
}

const UNLOCK_USAGE = `Usage: sugang unlock <studentId>

Lifts the lock that too many failed logins put on a student id (ACCOUNT_LOCKED), before it
ends by itself. Only for a student who has proved who they are. Needs REDIS_URL (and the
deployment's REDIS_PREFIX).`

async function unlock(argv: string[]): Promise<void> {
  if (argv.includes('--help')) {
    console.log(UNLOCK_USAGE)
    return
  }
  const [studentId] = argv
  if (!studentId || argv.length !== 1) {
    throw new ConfigError(`one student id is required\n\n${UNLOCK_USAGE}`)
  }
  const config = loadConfig()
  if (config.storage.kind === 'embedded') {
    throw new ConfigError(
      'sugang unlock needs REDIS_URL (and DATABASE_URL): the embedded mode keeps login counters in the memory of its "sugang serve" process, so restarting that process lifts every lock',
    )
  }
  const throttled = new ThrottledLog(pino({ level: 'silent' }))
  const { rush, store } = await createAdapters(config, throttled)
  try {
    await rush.lifecycle.connect(5_000)
    const id = canonicalStudentId(studentId)
    await new LoginGuard(rush.logins).unlock(id)
    console.log(`login lock of ${id} lifted`)
  } finally {
    await rush.lifecycle.close()
    await store.close()
    throttled.close()
  }
}

const AUDIT_USAGE = `Usage: sugang audit fairness [--course C] [--json]

Checks the fairness record in DATABASE_URL (or the embedded store) from the database alone: for
every course (or course C), that its chain of entries is intact and ends at the course's head;
that nobody was refused for a full course, or put on its waitlist, while a seat was free or after
a later arrival got a seat; that the waitlist gave its seats in order; and that the record
replays to the seats and the waitlist the course holds. Prints a line per course (or, with
--json, one JSON document) and each break found. Exits 0 when the record holds, 1 when anything
is broken. Safe to run during registration: each course is checked up to the entry its row
names when it is read.`

async function audit(argv: string[]): Promise<number> {
  const [what, ...rest] = argv
  if (what === '--help' || what === 'help') {
    console.log(AUDIT_USAGE)
    return 0
  }
  if (what !== 'fairness') throw new ConfigError(`unknown audit "${what ?? ''}"\n\n${AUDIT_USAGE}`)
  const { values } = parseArgs({
    args: rest,
    options: {
      course: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  })
  if (values.help) {
    console.log(AUDIT_USAGE)
    return 0
  }
  const { storage, databaseTls } = loadConfig()
  // One read of every course's seats and waitlist, then each course's entries: a tool's
  // deadline, not a request's.
  const store = await openStore(storage, { tls: databaseTls, poolSize: 1, timeoutMs: 120_000 })
  try {
    const audits = await auditRecord(store, values.course)
    if (values.course !== undefined && audits.length === 0) {
      throw new ConfigError(`no course ${values.course}`)
    }
    const broken = audits.filter((a) => a.breaks.length > 0)
    if (values.json) {
      console.log(JSON.stringify({ holds: broken.length === 0, courses: audits }, null, 2))
    } else {
      printAudit(audits)
    }
    return broken.length === 0 ? 0 : 1
  } finally {
    await store.close()
  }
}

function printAudit(audits: readonly CourseAudit[]): void {
  const row = (cells: ReadonlyArray<string | number>) =>
    cells.map((c, i) => (i === 0 ? String(c).padEnd(16) : String(c).padStart(9))).join(' ')
  console.log(row(['course', 'entries', 'seats', 'waiting', 'refused', 'head']))
  for (const a of audits) {
    const refused = a.kinds.rejected ?? 0
    const head = a.head.seq === 0 ? '-' : `${a.head.hash.slice(0, 12)}`
    const result = a.breaks.length === 0 ? 'ok' : `${a.breaks.length} BROKEN`
    console.log(
      `${row([a.courseId, a.entries, `${a.enrolled}/${a.capacity}`, a.waiting, refused])}  ${head.padEnd(12)}  ${result}`,
    )
  }
  const entries = audits.reduce((n, a) => n + a.entries, 0)
  const broken = audits.filter((a) => a.breaks.length > 0)
  for (const a of broken) for (const b of a.breaks) console.log(`${a.courseId}: ${b}`)
  console.log(
    broken.length === 0
      ? `${audits.length} courses, ${entries} entries: the record holds`
      : `${audits.length} courses, ${entries} entries: ${broken.length} courses BROKEN`,
  )
}

async function migrate(argv: string[]): Promise<void> {
  if (argv.includes('--help')) {
    console.log(
      'Usage: sugang migrate\n\nCreates or upgrades the schema in DATABASE_URL (or, without DATABASE_URL and REDIS_URL,\nin the embedded store at SQLITE_PATH). Safe to run again.',
    )
    return
  }
  const { storage, databaseTls } = loadConfig()
  const store = await openStore(storage, { tls: databaseTls, poolSize: 1 })
  try {
    await store.migrate()
    console.log('schema is up to date')
  } finally {
    await store.close()
  }
}

const NOTIFY_USAGE = `Usage: sugang notify [--watch SECONDS]
       sugang notify --retry-dead | --discard-dead

Sends the confirmation e-mails that are due, through SES, and prints what it did: the same
sender the e-mail Lambda runs. Without --watch it stops when nothing is due; with it, it looks
again every SECONDS until stopped. A message SES refused for good (a bad address), or that
kept failing for about an hour, ends dead (the SugangConfirmationEmailsFailed alert):
--retry-dead sends every dead one again once the cause is fixed, --discard-dead gives up on
them.

Environment: MAIL_FROM (required; its domain verified in SES), SES_CONFIGURATION_SET,
SITE_URL, the AWS region and credentials as the AWS CLI reads them, and DATABASE_URL (or
DATABASE_SECRET_ARN with DATABASE_HOST and DATABASE_NAME; or neither, for the embedded store
at SQLITE_PATH). NOTIFY_BATCH_SIZE, NOTIFY_CONCURRENCY, NOTIFY_MAX_ATTEMPTS,
NOTIFY_BACKOFF_BASE_MS, NOTIFY_BACKOFF_MAX_MS and NOTIFY_LEASE_MS tune it (see the README).`

async function notify(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      watch: { type: 'string' },
      'retry-dead': { type: 'boolean', default: false },
      'discard-dead': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  })
  if (values.help) {
    console.log(NOTIFY_USAGE)
    return
  }
  const watchSeconds = values.watch === undefined ? 0 : positive(values.watch, 'watch', 3600)
  const config = loadNotifierConfig()
  const log = pino({ level: config.logLevel })
  // Loaded here only: the AWS clients are of no use to any other command.
  const { createNotifier } = await import('./wiring/notifier.js')
  const notifier = await createNotifier(config, { log })
  const resolve = values['retry-dead'] ? 'retry' : values['discard-dead'] ? 'discard' : undefined
  if (resolve !== undefined) {
    if (values['retry-dead'] && values['discard-dead']) {
      await notifier.close()
      throw new ConfigError('--retry-dead and --discard-dead exclude each other')
    }
    try {
      const n = await notifier.resolveDead(resolve)
      console.log(
        resolve === 'retry'
          ? `${n} dead confirmation(s) will be sent again`
          : `${n} dead confirmation(s) discarded`,
      )
    } finally {
      await notifier.close()
    }
    return
  }
  let stopping = false
  let wake: (() => void) | undefined
  const stop = () => {
    stopping = true
    wake?.()
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  try {
    do {
      const report = await notifier.run(() => stopping)
      const backlog = await notifier.backlog()
      console.log(JSON.stringify({ ...report, backlog }))
      if (watchSeconds === 0 || stopping) break
      await new Promise<void>((resolve) => {
        wake = resolve
        setTimeout(resolve, watchSeconds * 1000).unref()
      })
    } while (!stopping)
  } finally {
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
    await notifier.close()
  }
}

const DATABASE_USERS_USAGE = `Usage: sugang database-users

Creates the MySQL users the service and the e-mail sender connect as, or sets their passwords
and privileges again (after a rotation): run as the master user, once after the database is
created and after each rotation of a user's password. Migrates the schema first. Idempotent.

Environment: the master's connection as DATABASE_URL, or DATABASE_SECRET_ARN (its Secrets
Manager secret) with DATABASE_HOST, DATABASE_PORT and DATABASE_NAME; DATABASE_TLS as for the
service (with it, the users may connect over TLS only); each user's password from its secret,
APP_DATABASE_SECRET_ARN and NOTIFY_DATABASE_SECRET_ARN, or given as APP_DATABASE_PASSWORD and
NOTIFY_DATABASE_PASSWORD (users sugang_app and sugang_notify unless APP_DATABASE_USER and
NOTIFY_DATABASE_USER say otherwise). See docs/decisions/0004-database-users.md.`

async function databaseUsers(argv: string[]): Promise<void> {
  if (argv.includes('--help')) {
    console.log(DATABASE_USERS_USAGE)
    return
  }
  if (argv.length > 0) throw new ConfigError(`unexpected arguments\n\n${DATABASE_USERS_USAGE}`)
  const config = loadDatabaseUsersConfig()
  // Loaded here only: the AWS clients are of no use to any other command.
  const { provisionUsers } = await import('./wiring/database-users.js')
  const { database, app, notifier } = await provisionUsers(config)
  console.log(
    `users ${app} (service) and ${notifier} (e-mail sender) are up to date on ${database}`,
  )
}

const DEMO_USAGE = `Usage: sugang demo [--opens-in DURATION] [--crowd N] [--course ID] [--pace N]
                   [--spread DURATION] [--data FILE]

The whole story of the rush minute on one machine. Runs the service on an embedded store of
its own (FILE, default service/data/demo.sqlite), which starts the demo semester over on every
run (logins survive a restart), with registration opening DURATION after the start (default
2m). Open the page, log in as S000001 (password sugang-demo), put a course in the cart and
watch the countdown.

At the opening a crowd of N simulated students (default 60, the last ones: S002000 down) asks
for course ID (default ART1010-01, 도자기공예, 5 seats) through the HTTP API, as their pages
would, arriving over the first DURATION (--spread, default 3s), and admission decides at most
N requests of a course per second (--pace, default 2; 0 for as fast as the store allows, as in
production), so that a place in the queue and its estimated wait move while one watches. The
console tells how the crowd fared.

PORT, HOST, LOG_LEVEL and the other settings apply as for "sugang serve" (see the README);
DATABASE_URL and REDIS_URL must not be set.`

/** The demo's defaults: a tiny course, a crowd twelve times its seats, decided at a pace to watch. */
const DEMO_DEFAULTS = {
  opensIn: '2m',
  crowd: 60,
  course: 'ART1010-01',
  pace: 2,
  spread: '3s',
} as const

async function demo(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'opens-in': { type: 'string', default: DEMO_DEFAULTS.opensIn },
      crowd: { type: 'string', default: String(DEMO_DEFAULTS.crowd) },
      course: { type: 'string', default: DEMO_DEFAULTS.course },
      pace: { type: 'string', default: String(DEMO_DEFAULTS.pace) },
      spread: { type: 'string', default: DEMO_DEFAULTS.spread },
      data: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  })
  if (values.help) {
    console.log(DEMO_USAGE)
    return
  }
  // The visitor is S000001; the crowd is the last students.
  const crowdSize = positive(values.crowd, 'crowd', DEMO_STUDENTS - 1)
  const pace = positive(values.pace, 'pace', 100_000)
  const spreadMs = duration(values.spread)
  if (spreadMs === null) {
    throw new ConfigError(
      `--spread must be a duration such as 0s, 3s or 1m, got "${values.spread}"`,
    )
  }
  const course = demoSemester().courses.find((c) => c.id === values.course)
  if (!course) {
    const tiny = demoSemester()
      .courses.filter((c) => c.capacity <= 5)
      .map((c) => `${c.id} (${c.title}, ${c.capacity})`)
    throw new ConfigError(
      `--course must be a course of the demo semester, e.g. one of the tiny ones: ${tiny.join(', ')}`,
    )
  }
  const config = loadConfig({
    ...process.env,
    SQLITE_PATH: values.data ?? join(dataDirectory(), 'demo.sqlite'),
    REGISTRATION_OPENS_IN: values['opens-in'],
    ADMISSION_PACE: String(pace),
  })
  if (config.storage.kind !== 'embedded') {
    throw new ConfigError(
      'sugang demo runs on an embedded store of its own, which it starts over: unset DATABASE_URL and REDIS_URL',
    )
  }

  // Start over: no enrollment, waitlist place or cart item of an earlier run (sessions stay).
  const store = await openSqliteStore({ path: config.storage.sqlitePath })
  try {
    await store.migrate()
    await store.deleteAll()
  } finally {
    await store.close()
  }

  const app = await serve(config)
  const say = (line: string) => {
    if (config.logLevel !== 'silent') process.stdout.write(`  ${line}\n`)
  }
  const opensAt = config.registration.opensAt as Date
  const address = app.server.address()
  const port = typeof address === 'object' && address ? address.port : config.port
  const first = DEMO_STUDENTS - crowdSize + 1
  say(
    `Demo: registration opens at ${opensAt.toISOString()}, ${Math.round((opensAt.getTime() - Date.now()) / 1000)} s from now.`,
  )
  if (crowdSize > 0) {
    say(
      `At the opening ${crowdSize} students (${demoStudentId(first)}-${demoStudentId(DEMO_STUDENTS)}) ask for ${course.title} (${course.id}, ${course.capacity} seats);`,
    )
    say(`admission decides ${pace || 'as many as it can'} requests of a course a second.`)
  }
  say('')
  if (crowdSize === 0) return

  const stop = new AbortController()
  const abort = () => stop.abort(new Error('the demo is stopping'))
  process.once('SIGINT', abort)
  process.once('SIGTERM', abort)
  app.server.once('close', abort)
  const students = Array.from({ length: crowdSize }, (_, i) => demoStudentId(first + i))
  void runCrowd({
    base: pageUrl({ ...config, port }).replace(/\/$/, ''),
    students,
    password: DEMO_PASSWORD,
    courseId: course.id,
    opensAt,
    spreadMs,
    signal: stop.signal,
    report: say,
  }).catch((err: unknown) => {
    if (!stop.signal.aborted) app.log.error({ err }, 'the demo crowd failed')
  })
}

const OPENAPI_USAGE = `Usage: sugang openapi [--output FILE]

Prints the OpenAPI 3 document generated from the route schemas (what GET /api/v1/openapi.json
serves), or writes it to FILE. Needs no configuration, and no MySQL or Redis to be running.`

async function openapi(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      output: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  })
  if (values.help) {
    console.log(OPENAPI_USAGE)
    return
  }
  const document = await generateOpenapi()
  if (values.output) {
    await writeFile(values.output, document)
    console.error(`wrote ${values.output}`)
  } else {
    process.stdout.write(document)
  }
}

const ADMIN_USAGE = `Usage: sugang admin token NAME [--json]
       sugang admin status [--json]
       sugang admin pause [--course C] --reason R
       sugang admin resume [--course C] --reason R
       sugang admin throttle [--course C] --per-second N --reason R
       sugang admin unthrottle [--course C] --reason R
       sugang admin window --opens-at ISO [--year Y] --reason R
       sugang admin announce --ko TEXT --en TEXT --reason R
       sugang admin unannounce --reason R
       sugang admin capacity --course C --capacity N --reason R
       sugang admin actions [--limit N]

Opening-day controls of a running "sugang serve", through its admin listener. Each command is
recorded with the operator's name and its --reason (required, 3 to 500 characters), holds on
this instance at once and on every other within a second, and prints the controls then in force.

  token NAME  prints a new operator token for NAME, shown only this once, and the NAME:sha256
              entry to add to ADMIN_TOKENS (comma-separated) of every instance, which then
              needs a restart. The instances keep only the hash. Needs no configuration.
  status      the controls in force: pauses, ceilings, the registration window, the banner.
  pause       stops deciding requests of course C (or, without --course, of every course).
              Students keep asking and keep their places in the queue; nothing is decided
              until resume, which decides them in the order they arrived.
  resume      lifts the pause of course C (or the one of every course).
  throttle    at most N requests of course C decided per second, or without --course at most
              N over all courses together, counted across every instance.
  unthrottle  lifts a ceiling.
  window      moves the registration opening, for everyone or for grade year Y, to ISO
              (e.g. 2026-02-10T10:10:00+09:00). Until then a request is answered 403
              REGISTRATION_CLOSED with the new time, which the students' pages count down to.
  announce    sets the banner, in Korean (--ko) and English (--en).
  unannounce  takes the banner down.
  capacity    changes course C's capacity (증원/감원). New seats go to the head of the waitlist
              at once, in order; a capacity below the seats taken is refused (409
              CAPACITY_BELOW_ENROLLED): no enrollment is ever removed.
  actions     who did what, when and why, newest first (--limit, default 100).

Environment: SUGANG_ADMIN_TOKEN, the operator's token (never an option: it would show in the
shell history and to ps); ADMIN_URL, default http://127.0.0.1:ADMIN_PORT (9465). --json prints
the API's answer as it came. Exits 1 with the API's error (e.g. 409 NOTHING_TO_UNDO), 2 for a
mistake in the command.`

/** What `sugang admin` accepts besides the command; each command takes only its own. */
const ADMIN_OPTIONS = {
  course: { type: 'string' },
  reason: { type: 'string' },
  'per-second': { type: 'string' },
  'opens-at': { type: 'string' },
  year: { type: 'string' },
  ko: { type: 'string' },
  en: { type: 'string' },
  limit: { type: 'string' },
  capacity: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
} as const

type AdminOption = keyof typeof ADMIN_OPTIONS
type AdminValues = Partial<Record<AdminOption, string | boolean>>

const ADMIN_COMMANDS: Readonly<Record<string, readonly AdminOption[]>> = {
  token: [],
  status: [],
  pause: ['course', 'reason'],
  resume: ['course', 'reason'],
  throttle: ['course', 'per-second', 'reason'],
  unthrottle: ['course', 'reason'],
  window: ['opens-at', 'year', 'reason'],
  announce: ['ko', 'en', 'reason'],
  unannounce: ['reason'],
  capacity: ['course', 'capacity', 'reason'],
  actions: ['limit'],
}

/** One call of the admin API, and what a command says when it succeeded. */
interface AdminCall {
  readonly method: 'GET' | 'POST'
  readonly path: string
  readonly body?: Readonly<Record<string, unknown>>
  readonly done?: string
}

/** The admin API's answers, as far as the summaries read them. */
interface Since {
  readonly since: string
  readonly by: string
}
interface ControlsView {
  readonly pauses: ReadonlyArray<{ course: string; reason: string } & Since>
  readonly throttles: ReadonlyArray<{ course: string; perSecond: number; reason: string } & Since>
  readonly window: {
    readonly opensAt: string | null
    readonly opensAtByYear: Readonly<Record<string, string>>
    readonly closesAt: string | null
    readonly moved: ({ readonly reason: string } & Since) | null
  }
  readonly announcement: ({ readonly ko: string; readonly en: string } & Since) | null
}
interface ActionView {
  readonly id: number
  readonly at: string
  readonly operator: string
  readonly action: string
  readonly target: string
  readonly reason: string
  readonly details: unknown
}

/** The API refused, or could not be reached: exit 1 with what it said. */
class AdminFailure extends Error {}

async function admin(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (command === undefined || command === '--help' || command === 'help') {
    console.log(ADMIN_USAGE)
    return command === undefined ? 2 : 0
  }
  const allowed = ADMIN_COMMANDS[command]
  if (!allowed) throw new ConfigError(`unknown admin command "${command}"\n\n${ADMIN_USAGE}`)
  const { values, positionals } = parseArgs({
    args: rest,
    options: ADMIN_OPTIONS,
    allowPositionals: command === 'token',
  })
  if (values.help) {
    console.log(ADMIN_USAGE)
    return 0
  }
  for (const [name, value] of Object.entries(values)) {
    if (name === 'json' || name === 'help' || value === undefined) continue
    if (!allowed.includes(name as AdminOption)) {
      throw new ConfigError(`--${name} does not apply to "sugang admin ${command}"`)
    }
  }
  if (command === 'token') {
    newOperatorToken(positionals, values.json)
    return 0
  }
  const call = adminCall(command, values)
  try {
    const answer = await adminRequest(call)
    if (values.json) console.log(JSON.stringify(answer, null, 2))
    else if (command === 'actions') printActions((answer as { actions: ActionView[] }).actions)
    else if (command === 'capacity') printCapacity(answer as CapacityView)
    else {
      if (call.done) console.log(call.done)
      printControls(answer as ControlsView)
    }
    return 0
  } catch (err) {
    if (!(err instanceof AdminFailure)) throw err
    console.error(`sugang admin ${command}: ${err.message}`)
    return 1
  }
}

/** `sugang admin token NAME`: a new token, shown once, and the hash the instances keep. */
function newOperatorToken(positionals: readonly string[], json: boolean): void {
  const [name] = positionals
  if (name === undefined || positionals.length !== 1) {
    throw new ConfigError('one operator name is required: sugang admin token NAME')
  }
  // The names ADMIN_TOKENS accepts (config.ts): they are recorded with every action.
  if (!/^[A-Za-z0-9._@-]{1,64}$/.test(name)) {
    throw new ConfigError('NAME must be 1 to 64 letters, digits, ".", "_", "@" or "-"')
  }
  const token = randomBytes(32).toString('base64url')
  const entry = `${name}:${createHash('sha256').update(token).digest('hex')}`
  if (json) {
    console.log(JSON.stringify({ operator: name, token, entry }, null, 2))
    return
  }
  console.log(`Operator token of ${name} (shown only now; ${name} keeps it in SUGANG_ADMIN_TOKEN):`)
  console.log(`  ${token}`)
  console.log(
    'Add this entry to ADMIN_TOKENS (comma-separated) on every instance and restart them:',
  )
  console.log(`  ${entry}`)
}

function adminCall(command: string, values: AdminValues): AdminCall {
  const text = (name: AdminOption): string | undefined => {
    const value = values[name]
    return typeof value === 'string' ? value : undefined
  }
  const required = (name: AdminOption): string => {
    const value = text(name)?.trim()
    if (!value) throw new ConfigError(`--${name} is required for "sugang admin ${command}"`)
    return value
  }
  const integer = (name: AdminOption, min: number, max: number): number => {
    const raw = required(name)
    const n = Number(raw)
    if (!/^\d+$/.test(raw) || n < min || n > max) {
      throw new ConfigError(`--${name} must be an integer from ${min} to ${max}`)
    }
    return n
  }
  if (command === 'status') return { method: 'GET', path: '/controls' }
  if (command === 'actions') {
    const limit = text('limit') === undefined ? 100 : integer('limit', 1, 1000)
    return { method: 'GET', path: `/actions?limit=${limit}` }
  }
  const reason = required('reason')
  const course = text('course')
  const target = course ?? EVERY_COURSE
  const which = course === undefined ? 'every course' : course
  switch (command) {
    case 'pause':
      return post('/pause', { course: target, reason }, `paused admission of ${which}`)
    case 'resume':
      return post('/resume', { course: target, reason }, `resumed admission of ${which}`)
    case 'throttle': {
      const perSecond = integer('per-second', 1, 100_000)
      const over = course === undefined ? 'over all courses together' : `of ${course}`
      return post(
        '/throttle',
        { course: target, perSecond, reason },
        `at most ${perSecond} decisions a second ${over}`,
      )
    }
    case 'unthrottle':
      return post('/unthrottle', { course: target, reason }, `lifted the ceiling of ${which}`)
    case 'window': {
      const raw = required('opens-at')
      const at = Date.parse(raw)
      // A time without an offset would be read in this machine's zone: say which one is meant.
      if (Number.isNaN(at) || !/(Z|[+-]\d\d:?\d\d)$/i.test(raw)) {
        throw new ConfigError(
          `--opens-at must be an ISO 8601 time with its offset, e.g. 2026-02-10T10:10:00+09:00, got "${raw}"`,
        )
      }
      const opensAt = new Date(at).toISOString()
      const year = text('year') === undefined ? undefined : integer('year', 1, 6)
      return post(
        '/window',
        { opensAt, ...(year === undefined ? {} : { year }), reason },
        `registration opens at ${opensAt} for ${year === undefined ? 'everyone' : `grade year ${year}`}`,
      )
    }
    case 'announce':
      return post(
        '/announcement',
        { ko: required('ko'), en: required('en'), reason },
        'the announcement is up',
      )
    case 'unannounce':
      return post('/announcement/clear', { reason }, 'the announcement is down')
    case 'capacity': {
      const id = required('course')
      const capacity = integer('capacity', 0, 100_000)
      return post(`/courses/${encodeURIComponent(id)}/capacity`, { capacity, reason })
    }
    default:
      throw new ConfigError(`unknown admin command "${command}"`)
  }
}

function post(path: string, body: Record<string, unknown>, done?: string): AdminCall {
  return { method: 'POST', path, body, ...(done === undefined ? {} : { done }) }
}

/** What a capacity change answers. */
interface CapacityView {
  readonly courseId: string
  readonly capacity: number
  readonly enrolled: number
  readonly promoted: ReadonlyArray<{ readonly studentId: string; readonly requestId: string }>
}

function printCapacity(answer: CapacityView): void {
  console.log(
    `${answer.courseId}: capacity ${answer.capacity}, ${answer.enrolled} seats taken, ${answer.promoted.length} promoted from the waitlist`,
  )
  for (const p of answer.promoted) console.log(`  ${p.studentId}  (request ${p.requestId})`)
}

/** The admin listener of this machine's service, unless ADMIN_URL names another. */
function adminBase(): string {
  const url = process.env.ADMIN_URL?.trim()
  if (url) {
    if (!/^https?:\/\//.test(url)) throw new ConfigError('ADMIN_URL must be an http(s) URL')
    return url.replace(/\/+$/, '')
  }
  const port = process.env.ADMIN_PORT?.trim() || '9465'
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) {
    throw new ConfigError('ADMIN_PORT must be a port number')
  }
  return `http://127.0.0.1:${port}`
}

async function adminRequest(call: AdminCall): Promise<unknown> {
  const token = process.env.SUGANG_ADMIN_TOKEN?.trim()
  if (!token) {
    throw new ConfigError(
      'set SUGANG_ADMIN_TOKEN to your operator token (never an option: it would show in the shell history); "sugang admin token NAME" makes one',
    )
  }
  const url = `${adminBase()}/admin/v1${call.path}`
  let res: Response
  try {
    res = await fetch(url, {
      method: call.method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(call.body ? { 'content-type': 'application/json' } : {}),
      },
      ...(call.body ? { body: JSON.stringify(call.body) } : {}),
      signal: AbortSignal.timeout(15_000),
    })
  } catch (err) {
    const { cause } = err as { cause?: { code?: string; message?: string } }
    const why = cause?.code ?? cause?.message ?? (err as Error).message
    throw new AdminFailure(
      `cannot reach the admin listener at ${url} (${why}): is "sugang serve" running here with ADMIN_TOKENS set, and ADMIN_PORT or ADMIN_URL the same as its?`,
    )
  }
  const text = await res.text()
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    body = text
  }
  if (!res.ok) {
    const error = (body as { error?: { code?: string; message?: string } } | null)?.error
    throw new AdminFailure(
      error
        ? `${res.status} ${error.code ?? ''}: ${error.message ?? ''}`
        : `${res.status} ${text.slice(0, 200)}`,
    )
  }
  return body
}

const courseLabel = (course: string): string => (course === EVERY_COURSE ? 'every course' : course)

function printControls(c: ControlsView): void {
  const line = (label: string, value: string) => console.log(`${label.padEnd(15)}${value}`)
  const who = (s: Since) => `since ${s.since} by ${s.by}`
  if (c.pauses.length === 0) line('paused:', 'nothing')
  for (const [i, p] of c.pauses.entries()) {
    line(i === 0 ? 'paused:' : '', `${courseLabel(p.course)} ${who(p)}: ${p.reason}`)
  }
  if (c.throttles.length === 0) line('throttled:', 'nothing')
  for (const [i, t] of c.throttles.entries()) {
    const what = t.course === EVERY_COURSE ? 'all courses together' : t.course
    line(i === 0 ? 'throttled:' : '', `${what} at ${t.perSecond}/s ${who(t)}: ${t.reason}`)
  }
  const w = c.window
  line('opens:', w.opensAt ?? 'always open')
  for (const [year, at] of Object.entries(w.opensAtByYear)) line(`  year ${year}:`, at)
  line('closes:', w.closesAt ?? 'never')
  if (w.moved) line('  moved', `${who(w.moved)}: ${w.moved.reason}`)
  const a = c.announcement
  if (!a) line('announcement:', 'none')
  else {
    line('announcement:', `${a.ko}`)
    line('', `${a.en}`)
    line('', who(a))
  }
}

function printActions(actions: readonly ActionView[]): void {
  if (actions.length === 0) {
    console.log('no operator actions yet')
    return
  }
  for (const a of actions) {
    const details = JSON.stringify(a.details)
    const extra = details === '{}' || details === '""' ? '' : ` ${details}`
    // Every course is what a pause or a ceiling without --course names; the rest need no target.
    const target =
      a.target !== EVERY_COURSE
        ? ` ${a.target}`
        : ['pause', 'resume', 'throttle', 'unthrottle'].includes(a.action)
          ? ' every course'
          : ''
    console.log(`${a.at}  ${a.operator}  ${a.action}${target}${extra}: ${a.reason}`)
  }
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  try {
    switch (command) {
      case 'admin':
        return await admin(rest)
      case 'audit':
        return await audit(rest)
      case 'migrate':
        await migrate(rest)
        return 0
      case 'seed':
        await seed(rest)
        return 0
      case 'openapi':
        await openapi(rest)
        return 0
      case 'unlock':
        await unlock(rest)
        return 0
      case 'notify':
        await notify(rest)
        return 0
      case 'database-users':
        await databaseUsers(rest)
        return 0
      case 'demo':
        await demo(rest)
        return 0
      case 'serve':
        if (rest.includes('--help')) {
          console.log(
            'Usage: sugang serve\n\nRuns the service. SERVICE_ROLE says what this process runs: all (the HTTP API and the\nadmission worker; the default), door (the HTTP API) or admission (the admission worker and\nthe reconciler, with only /health/* and metrics). Configuration comes from the environment\n(see the README).',
          )
          return 0
        }
        await serve(loadConfig())
        return 0
      case undefined:
      case '--help':
      case 'help':
        console.log(USAGE)
        return command === undefined ? 1 : 0
      default:
        console.error(`Unknown command "${command}".\n\n${USAGE}`)
        return 1
    }
  } catch (err) {
    if (
      err instanceof ConfigError ||
      (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
    ) {
      console.error(`sugang: ${(err as Error).message}`)
      return 2
    }
    throw err
  }
}
