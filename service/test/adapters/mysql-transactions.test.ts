import { randomUUID } from 'node:crypto'
import mysql from 'mysql2/promise'
import t from 'tap'
import { MysqlStore } from '../../src/adapters/mysql/store.js'
import type { AdmissionFacts } from '../../src/domain/ports.js'
import { planAdmission } from '../../src/domain/rules.js'
import { configFrom, databaseUrlOf, isolatedEnv, seedDatabase } from '../helper.js'

const rules = { maxWaitlistPerStudent: 5 }

async function enroll(store: MysqlStore, studentId: string): Promise<void> {
  const fence = await store.fence('C0001')
  const request = { requestId: randomUUID(), studentId, waitlist: false, arrival: 1 }
  const decide = (facts: AdmissionFacts) => {
    const plan = planAdmission([request], facts, rules)
    return { writes: plan.writes, value: plan }
  }
  await store.admit('C0001', fence as number, [studentId], decide)
}

t.test('a transaction that runs out of time leaves nothing half-written behind', async (t) => {
  const env = await isolatedEnv(t, 'txdeadline')
  const config = configFrom(env)
  await seedDatabase(config, { students: 3, capacity: 2 })
  const timeoutMs = 300
  // One connection: whatever the failed transaction leaves on it, the next operation meets.
  const store = new MysqlStore({ url: databaseUrlOf(config), poolSize: 1, timeoutMs })
  t.teardown(() => store.close())
  const truth = await mysql.createConnection({ uri: databaseUrlOf(config) })
  t.teardown(() => truth.end())
  await enroll(store, 'S000001')

  // The cancellation deletes the row, then its deadline passes before it updates the course.
  const cancelled = store.cancel('S000001', 'C0001', async (tx) => {
    t.ok(await tx.removeEnrollment(), 'the row is deleted inside the transaction')
    const until = Date.now() + timeoutMs * 2
    while (Date.now() < until) await new Promise((r) => setTimeout(r, 20))
    await tx.updateCourse(tx.course.enrolled - 1, tx.course.version + 1)
    return 'done'
  })
  await t.rejects(cancelled, 'the operation fails: its deadline passed')

  // The next transaction on the same connection must not commit the half-done cancellation.
  await enroll(store, 'S000002')
  const [rows] = await truth.query<mysql.RowDataPacket[]>(
    `SELECT c.enrolled, (SELECT COUNT(*) FROM enrollments e WHERE e.course_id = c.id) AS n,
            (SELECT COUNT(*) FROM enrollments e WHERE e.student_id = 'S000001') AS mine
       FROM courses c WHERE c.id = 'C0001'`,
  )
  t.same(
    { enrolled: Number(rows[0]?.enrolled), rows: Number(rows[0]?.n), mine: Number(rows[0]?.mine) },
    { enrolled: 2, rows: 2, mine: 1 },
    'the first enrollment is still there and the column agrees with the rows',
  )
})
