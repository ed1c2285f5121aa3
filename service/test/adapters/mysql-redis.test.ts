import t from 'tap'
import { MysqlStore } from '../../src/adapters/mysql/store.js'
import { createRedisRushState } from '../../src/adapters/redis/index.js'
import { formatMeetings } from '../../src/domain/meetings.js'
import {
  REDIS_CLUSTER_NODES,
  REDIS_URL,
  configFrom,
  databaseUrlOf,
  isolatedEnv,
} from '../helper.js'
import { PASSWORD_HASH, contract } from './contract.js'

// The production pair: MySQL (MariaDB in tests) and Redis, each test on a database and a key
// prefix of its own.
contract(t, async (t, options) => {
  const env = await isolatedEnv(t, 'contract')
  const config = configFrom(env)
  const store = new MysqlStore({ url: databaseUrlOf(config), poolSize: 4, timeoutMs: 3_000 })
  const rush = createRedisRushState({
    // The contract names its requests r1, r2, ...: ids that name no slot group, read in group 0.
    // With one group every course is in it (on a cluster, in one slot); the service's own ids
    // spread courses over the cluster's shards in the HTTP suites.
    ...(REDIS_CLUSTER_NODES ? { clusterNodes: REDIS_CLUSTER_NODES } : { url: REDIS_URL }),
    courseGroups: 1,
    checkSlots: true,
    prefix: env.REDIS_PREFIX ?? 'sugang:',
    sessionTtlSeconds: options.sessionTtlSeconds ?? 3_600,
    decidedTtlSeconds: options.decidedTtlSeconds ?? 3_600,
    requestBudget: options.requestBudget ?? { max: 1_000, windowMs: 10_000 },
    commandTimeoutMs: 3_000,
  })
  t.teardown(async () => {
    await rush.lifecycle.close()
    await store.close()
  })
  await store.migrate()
  await rush.lifecycle.connect()
  return {
    store,
    rush,
    async seed(fixture) {
      const db = store.primary
      for (const s of fixture.students ?? []) {
        await db.query(
          'INSERT INTO students (id, name, email, password_hash, year, max_credits) VALUES (?, ?, ?, ?, ?, ?)',
          [
            s.id,
            s.name ?? 'Student',
            `${s.id}@example.edu`,
            PASSWORD_HASH,
            s.year ?? 1,
            s.maxCredits ?? 18,
          ],
        )
      }
      for (const c of fixture.courses ?? []) {
        await db.query(
          'INSERT INTO courses (id, title, professor, credits, capacity, meetings) VALUES (?, ?, ?, ?, ?, ?)',
          [
            c.id,
            c.title ?? 'Course',
            c.professor ?? 'Professor',
            c.credits ?? 3,
            c.capacity,
            formatMeetings(c.meetings ?? []),
          ],
        )
      }
    },
  }
})
