// A login storm beyond what one instance can check: refused at once with 503 and Retry-After,
// with nothing counted against the student, instead of queued without bound on the thread pool.
import t from 'tap'
import { PASSWORD, configFrom, isolatedEnv, seedDatabase, startInstance } from '../helper.js'

const STUDENTS = 24

t.test('logins beyond the checks an instance runs and holds get 503 LOGIN_BUSY', async (t) => {
  const env = await isolatedEnv(t, 'loginbusy')
  const config = configFrom(env, {
    LOGIN_CHECKS_AT_ONCE: '1',
    // Turns are taken to last 100 ms until measured: one login may wait, the rest are refused.
    LOGIN_CHECK_MAX_WAIT_MS: '150',
    // A real cost, so that checks overlap: the seeded hashes are cheap, every login here is
    // checked at this floor and rehashed.
    PASSWORD_SCRYPT_N: '16384',
    // A busy answer must not count as a failure: two would lock the account.
    LOGIN_ACCOUNT_FAILURES: '2',
  })
  await seedDatabase(config, { students: STUDENTS, courses: 1 })
  const app = await startInstance(t, config, { worker: false })
  const ids = Array.from({ length: STUDENTS }, (_, i) => `S${String(i + 1).padStart(6, '0')}`)
  const login = (studentId: string) =>
    app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { studentId, password: PASSWORD },
    })

  for (let round = 0; round < 3; round += 1) {
    const answers = await Promise.all(ids.map(login))
    const busy = answers.filter((r) => r.statusCode === 503)
    for (const r of answers) {
      t.ok(r.statusCode === 200 || r.statusCode === 503, `round ${round}: ${r.statusCode}`)
    }
    t.ok(busy.length > 0, `round ${round}: ${busy.length} of ${STUDENTS} refused as busy`)
    for (const r of busy) {
      t.match(r.json(), { error: { code: 'LOGIN_BUSY' } })
      t.ok(Number(r.headers['retry-after']) >= 1, 'with Retry-After')
    }
    // Everyone refused gets in by retrying after Retry-After, as the page does, one at a time:
    // nothing was counted against them.
    const refused = ids.filter((_, i) => answers[i]!.statusCode === 503)
    for (const id of refused) {
      let res = await login(id)
      for (let attempt = 0; res.statusCode === 503 && attempt < 10; attempt += 1) {
        const seconds = Number(res.headers['retry-after'])
        await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
        res = await login(id)
      }
      t.equal(res.statusCode, 200, `${id} gets in after being refused: ${res.body}`)
    }
  }
  const metrics = await fetch(`http://127.0.0.1:${app.metrics.address()!.port}/metrics`)
  t.match(await metrics.text(), /sugang_login_refusals_total\{reason="busy"\} [1-9]/)
})
