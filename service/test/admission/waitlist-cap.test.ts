import t from 'tap'
import { courseId } from '../../src/seed.js'
import {
  configFrom,
  isolatedEnv,
  login,
  seedDatabase,
  startInstance,
  waitFor,
  STORAGES,
} from '../helper.js'

for (const storage of STORAGES) {
  t.test(`a student cannot hoard waitlist places beyond the cap (${storage})`, async (t) => {
    const env = await isolatedEnv(t, 'waitcap', storage)
    const config = configFrom(env, { MAX_WAITLIST_PER_STUDENT: '2' })
    await seedDatabase(config, { students: 2, courses: 3, capacity: 1 })
    const app = await startInstance(t, config)
    const [holder, hoarder] = [await login(app, 'S000001'), await login(app, 'S000002')]
    const ask = async (cookie: string, course: string, waitlist: boolean) => {
      const res = await app.inject({
        method: 'POST',
        url: `/api/v1/courses/${course}/enrollment-requests`,
        headers: { cookie },
        payload: waitlist ? { waitlist: true } : {},
      })
      const { requestId } = res.json() as { requestId: string }
      return waitFor(`${course} to be decided`, async () => {
        const view = (
          await app.inject({
            method: 'GET',
            url: `/api/v1/enrollment-requests/${requestId}`,
            headers: { cookie },
          })
        ).json() as { requestId: string; status: string; reason?: string }
        return view.status !== 'queued' && view
      })
    }
    for (const n of [1, 2, 3])
      t.match(await ask(holder, courseId(n), false), { status: 'enrolled' })
    const answers = []
    for (const n of [1, 2, 3]) answers.push(await ask(hoarder, courseId(n), true))
    t.same(answers, [
      { requestId: answers[0]?.requestId, courseId: 'C0001', status: 'waitlisted', position: 1 },
      { requestId: answers[1]?.requestId, courseId: 'C0002', status: 'waitlisted', position: 1 },
      {
        requestId: answers[2]?.requestId,
        courseId: 'C0003',
        status: 'rejected',
        reason: 'WAITLIST_LIMIT',
      },
    ])
  })
}
