// Operators move the registration opening (for everyone, or one grade year) and put up or take
// down an announcement, through the admin listener. A student's request before the moved opening
// gets 403 REGISTRATION_CLOSED with the new time; a move for one grade year leaves the others
// alone. Every command that took effect is one operator_actions row, with who and why.
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import {
  configFrom,
  database,
  isolatedEnv,
  login,
  seedDatabase,
  startInstance,
  STORAGES,
} from '../helper.js'
import {
  ADMIN_SETTINGS,
  adminCall,
  ask,
  command,
  type ErrorBody,
} from '../operations/admin-support.js'

interface Me {
  year: number
  registration: { opensAt: string | null; open: boolean }
}

async function me(app: FastifyInstance, cookie: string): Promise<Me> {
  const res = await app.inject({ method: 'GET', url: '/api/v1/me', headers: { cookie } })
  if (res.statusCode !== 200) throw new Error(`/me answered ${res.statusCode}: ${res.body}`)
  return res.json()
}

const MINUTE = 60_000
const KO = '서버 점검으로 10분 연기합니다'
const EN = 'Registration opens 10 minutes later for server maintenance.'

for (const storage of STORAGES) {
  t.test(`moving the opening, and announcing (${storage})`, async (t) => {
    const now = Date.now()
    const configured = new Date(now - 60 * MINUTE).toISOString()
    const env = await isolatedEnv(t, 'opwindow', storage)
    const config = configFrom(env, { ...ADMIN_SETTINGS, REGISTRATION_OPENS_AT: configured })
    await seedDatabase(config, { students: 4, courses: 1, capacity: 10 })
    const db = await database(t, config)
    await db.query("UPDATE students SET year = 2 WHERE id = 'S000002'")
    const app = await startInstance(t, config, { worker: false })
    const [s1, s2, s3, s4] = await Promise.all(
      ['S000001', 'S000002', 'S000003', 'S000004'].map((s) => login(app, s)),
    )
    if (!s1 || !s2 || !s3 || !s4) throw new Error('four logins')
    t.equal((await me(app, s2)).year, 2, 'S000002 is in grade year 2, the others in year 1')

    const closed = async (t: Test, cookie: string, opensAt: string, what: string) => {
      const res = await ask(app, cookie, 'C0001')
      t.equal(res.status, 403, `${what}: 403`)
      t.equal(res.body.error.code, 'REGISTRATION_CLOSED')
      t.equal(res.body.error.opensAt, opensAt, `${what}: told the moved opening`)
      t.match(await me(app, cookie), { registration: { opensAt, open: false } })
    }

    const year2 = new Date(now + 120 * MINUTE).toISOString()
    await t.test('moved later for grade year 2 only', async (t) => {
      const moved = await command(app, '/window', {
        opensAt: year2,
        year: 2,
        reason: 'year 2 timetable fixed late',
      })
      t.same(moved.window.opensAtByYear, { '2': year2 })
      t.equal(moved.window.opensAt, configured, "everyone else's opening stays")
      t.match(moved.window.moved, { reason: 'year 2 timetable fixed late', by: 'registrar' })
      await closed(t, s2, year2, 'a year-2 student')
      const res = await ask(app, s1 as string, 'C0001')
      t.equal(res.status, 202, 'a year-1 student is not affected')
      t.match(await me(app, s1 as string), { registration: { opensAt: configured, open: true } })
    })

    const later = new Date(now + 10 * MINUTE).toISOString()
    await t.test('moved later for everyone, by ten minutes', async (t) => {
      const moved = await command(
        app,
        '/window',
        { opensAt: later, reason: 'MySQL maintenance overran' },
        'on-call',
      )
      t.equal(moved.window.opensAt, later)
      t.same(moved.window.opensAtByYear, { '2': year2 }, "year 2's own opening stays")
      t.match(moved.window.moved, { by: 'on-call' })
      await closed(t, s3 as string, later, 'a year-1 student')
      await closed(t, s2 as string, year2, 'the year-2 student, who has an opening of their own')
    })

    const opening = new Date(now - MINUTE).toISOString()
    await t.test('moved back to now: open again, except for the year moved apart', async (t) => {
      const moved = await command(app, '/window', { opensAt: opening, reason: 'all clear' })
      t.equal(moved.window.opensAt, opening)
      t.equal((await ask(app, s3 as string, 'C0001')).status, 202, 'a year-1 student gets in')
      await closed(t, s2 as string, year2, 'the year-2 student')
      await command(app, '/window', { opensAt: opening, year: 2, reason: 'year 2 ready too' })
      t.equal((await ask(app, s2 as string, 'C0001')).status, 202, 'and then year 2 too')
    })

    await t.test('an announcement put up, replaced and taken down', async (t) => {
      const up = await command(
        app,
        '/announcement',
        { ko: KO, en: EN, reason: 'tell the students' },
        'on-call',
      )
      t.match(up.announcement, { ko: KO, en: EN, by: 'on-call' })
      const status = await adminCall(app, '/controls')
      t.same(status.body.announcement, up.announcement, 'the controls show it')
      const replaced = await command(app, '/announcement', {
        ko: '곧 열립니다',
        en: 'Opening shortly.',
        reason: 'maintenance done',
      })
      t.not(replaced.announcement?.id, up.announcement?.id, 'a new one has a new id')
      t.match(replaced.announcement, { ko: '곧 열립니다', by: 'registrar' })
      const down = await command(app, '/announcement/clear', { reason: 'registration open' })
      t.equal(down.announcement, null)
      const again = await adminCall<ErrorBody>(app, '/announcement/clear', {
        reason: 'once more',
      })
      t.equal(again.status, 409)
      t.equal(again.body.error.code, 'NOTHING_TO_UNDO')
    })

    await t.test('a command without a reason is refused, and not recorded', async (t) => {
      for (const body of [{ course: 'C0001' }, { course: 'C0001', reason: 'no' }]) {
        const res = await adminCall<ErrorBody>(app, '/pause', body)
        t.equal(res.status, 400)
        t.equal(res.body.error.code, 'VALIDATION_FAILED')
      }
      const unknown = await adminCall<ErrorBody>(app, '/pause', {
        course: 'X9999',
        reason: 'no such course',
      })
      t.equal(unknown.status, 404)
      t.equal(unknown.body.error.code, 'COURSE_NOT_FOUND')
      t.equal(app.sugang.controls.pausedFor('C0001'), null)
    })

    await t.test('every command that took effect is recorded: who, what, why', async (t) => {
      const [rows] = await db.query<
        Array<{ operator: string; action: string; target: string; reason: string; details: string }>
      >('SELECT operator, action, target, reason, details FROM operator_actions ORDER BY id')
      t.same(
        rows.map((r) => ({ ...r, details: JSON.parse(r.details) as unknown })),
        [
          ['registrar', 'window', 'year 2', 'year 2 timetable fixed late', { opensAt: year2 }],
          ['on-call', 'window', '*', 'MySQL maintenance overran', { opensAt: later }],
          ['registrar', 'window', '*', 'all clear', { opensAt: opening }],
          ['registrar', 'window', 'year 2', 'year 2 ready too', { opensAt: opening }],
          ['on-call', 'announce', '*', 'tell the students', { ko: KO, en: EN }],
          [
            'registrar',
            'announce',
            '*',
            'maintenance done',
            { ko: '곧 열립니다', en: 'Opening shortly.' },
          ],
          ['registrar', 'unannounce', '*', 'registration open', {}],
        ].map(([operator, action, target, reason, details]) => ({
          operator,
          action,
          target,
          reason,
          details,
        })),
        'one row per command, in order; none for a refused one',
      )
    })
  })
}
