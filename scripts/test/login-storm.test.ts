import mysql from 'mysql2/promise'
import t from 'tap'
import { defaultCost, seedCost } from '@sugang/service/passwords'
import { bench } from '../rush/main.js'
import type { TargetResult } from '../rush/report.js'
import { scenarios } from '../rush/scenarios.js'
import { MYSQL_URL } from '../rush/targets.js'

// The login storm at its small size, against real MariaDB and Redis: every student logs in at the
// production scrypt cost in the seconds before the opening (their seeded hashes are cheap, so
// each first login verifies and rehashes), then the opening's requests go out with the cookies
// those logins got, late students' as soon as they are in.

const seats = (r: TargetResult): number => r.outcomes.enrolled ?? 0
const costOf = (hash: string): string => hash.split('$').slice(0, 4).join('$')
const spelled = (c: { N: number; r: number; p: number }): string => `scrypt$${c.N}$${c.r}$${c.p}`

t.test(
  'login-storm: every student logs in at the production cost just before the opening, and the opening takes their sessions',
  async (t) => {
    // Pages that never give up: a page's 15 s timeout would make the outcome depend on this
    // machine's speed (a slow one falls off the cliff where every login is abandoned).
    const size = { ...scenarios['login-storm'].small, loginTimeoutMs: 0 }
    const report = await bench({
      scenario: 'login-storm',
      size,
      instances: [1],
      baselines: [],
      inFlight: 64,
      deadlineMs: 120_000,
      baselineWindowMs: 3_000,
      command: 'test login-storm',
      log: () => {},
    })
    // The plain opening on the same size and data first (its first second without a storm),
    // then the storm; the baselines have no logins.
    t.equal(report.results.length, 2, 'the plain opening, then the storm')
    const [quiet, r] = report.results
    const storm = r?.loginStorm
    if (!quiet || !r || !storm) return t.fail('no login-storm result')
    t.equal(quiet.loginStorm, undefined, 'the control has no storm')

    t.equal(storm.loggedIn, size.students, 'every student logged in')
    t.equal(storm.statuses['429'] ?? 0, 0, 'no right password was throttled')
    t.equal(
      storm.sessionsAccepted,
      size.students,
      "every student's opening requests were taken with the cookie their login got",
    )
    t.same(
      storm.storedCosts.before,
      { [spelled(seedCost)]: size.students },
      'the seed stayed cheap',
    )
    t.same(
      storm.storedCosts.after,
      { [spelled(defaultCost)]: size.students },
      'every first login rehashed at the production cost',
    )
    t.ok((storm.loginsPerCoreSecond ?? 0) > 0, `${storm.loginsPerCoreSecond} logins per CPU-second`)

    for (const result of report.results) {
      t.same(result.invariants.examples, [], `${result.target}: no example of a violation`)
      t.equal(result.violations, 0, `${result.target}: no invariant broken`)
      t.ok(result.firstSecond, `${result.target}: the opening's first second is reported`)
    }
    t.equal(r.requests, size.students * size.perStudent, 'every wish of every student was sent')
    t.ok(seats(r) > 0, 'seats taken')

    // After the run, from MySQL itself: the hash format is scrypt$N$r$p$salt$key.
    const db = await mysql.createConnection({ uri: `${MYSQL_URL}/sugang_bench` })
    t.teardown(() => db.end())
    const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT password_hash FROM students')
    t.equal(rows.length, size.students, 'one row per seeded student')
    t.same(
      [...new Set(rows.map((row) => costOf(String(row.password_hash))))],
      [spelled(defaultCost)],
      'every stored hash carries the production cost',
    )
  },
)
