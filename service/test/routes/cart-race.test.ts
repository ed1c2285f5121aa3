import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { MAX_CART_ITEMS } from '../../src/domain/cart.js'
import { courseId, studentId } from '../../src/seed.js'
import {
  configFrom,
  database,
  isolatedEnv,
  login,
  seedDatabase,
  startInstance,
  STORAGES,
} from '../helper.js'

const ROUNDS = 10
const COURSES = 20

for (const storage of STORAGES) {
  t.test(
    `${COURSES} concurrent additions fill a cart to its limit of ${MAX_CART_ITEMS} and no further, ${ROUNDS} rounds (${storage})`,
    async (t) => {
      const env = await isolatedEnv(t, 'cartrace', storage)
      const config = configFrom(env)
      await seedDatabase(config, { students: ROUNDS, courses: COURSES, capacity: 30 })
      const db = await database(t, config)
      // MySQL and Redis serve many instances: the additions arrive through two of them. The
      // embedded pair serves one instance only.
      const apps: FastifyInstance[] = [await startInstance(t, config, { worker: false })]
      if (storage === 'mysql-redis') apps.push(await startInstance(t, config, { worker: false }))

      for (let round = 1; round <= ROUNDS; round += 1) {
        const student = studentId(round)
        const cookie = await login(apps[0]!, student)
        // Each round starts the additions in another order, so other ones race for the last slot.
        const order = Array.from({ length: COURSES }, (_, i) =>
          courseId(((i + round * 7) % COURSES) + 1),
        )
        const answers = await Promise.all(
          order.map((course, i) =>
            apps[i % apps.length]!.inject({
              method: 'PUT',
              url: `/api/v1/me/cart/${course}`,
              headers: { cookie },
            }),
          ),
        )
        const statuses = answers.map((res) => res.statusCode)
        t.equal(
          statuses.filter((s) => s === 204).length,
          MAX_CART_ITEMS,
          `round ${round}: ${MAX_CART_ITEMS} added`,
        )
        t.equal(
          statuses.filter((s) => s === 409).length,
          COURSES - MAX_CART_ITEMS,
          `round ${round}: the rest are 409: ${statuses}`,
        )
        for (const res of answers.filter((r) => r.statusCode === 409)) {
          t.equal(res.json().error.code, 'CART_FULL')
        }
        const [rows] = await db.query<Array<{ n: number }>>(
          'SELECT COUNT(*) AS n FROM cart_items WHERE student_id = ?',
          [student],
        )
        t.equal(
          Number(rows[0]?.n),
          MAX_CART_ITEMS,
          `round ${round}: the stored cart holds the limit`,
        )

        const asked = await apps[round % apps.length]!.inject({
          method: 'POST',
          url: '/api/v1/me/cart/enrollment-requests',
          headers: { cookie },
        })
        t.equal(asked.statusCode, 200)
        t.equal(
          asked.json().results.length,
          MAX_CART_ITEMS,
          `round ${round}: one queue entry per course in the cart, no more`,
        )
      }
    },
  )
}
