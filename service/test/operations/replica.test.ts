import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import mysql from 'mysql2/promise'
import t from 'tap'
import { configFrom, isolatedEnv, login, seedDatabase, startInstance, waitFor } from '../helper.js'

const PRIMARY = process.env.TEST_REPLICATION_PRIMARY_URL ?? 'mysql://root@127.0.0.1:3307'
const REPLICA = process.env.TEST_REPLICATION_REPLICA_URL ?? 'mysql://root@127.0.0.1:3308'
const replicaUp = fileURLToPath(new URL('../../../scripts/mariadb-replica-up.sh', import.meta.url))

t.test('writes go to the primary, the catalogue is read from the replica', async (t) => {
  // The pair is started by CI; starting it here too (idempotent) keeps `npm test` self-contained.
  await promisify(execFile)('bash', [replicaUp], { timeout: 60_000 })
  const database = `sugang_t_split_${randomBytes(3).toString('hex')}`
  const primary = await mysql.createConnection({ uri: PRIMARY })
  const replica = await mysql.createConnection({ uri: REPLICA })
  t.teardown(async () => {
    await replica.query('START SLAVE SQL_THREAD').catch(() => undefined)
    await primary.query(`DROP DATABASE IF EXISTS \`${database}\``)
    await primary.end()
    await replica.end()
  })
  await primary.query(`CREATE DATABASE \`${database}\``)
  const env = await isolatedEnv(t, 'split')
  const config = configFrom(env, {
    DATABASE_URL: `${PRIMARY}/${database}`,
    DATABASE_REPLICA_URL: `${REPLICA}/${database}`,
  })
  await seedDatabase(config, { students: 2, courses: 1, capacity: 5 })
  await waitFor('the replica to catch up', async () => {
    const [rows] = await replica
      .query<mysql.RowDataPacket[]>(`SELECT COUNT(*) AS n FROM \`${database}\`.students`)
      .catch(() => [[{ n: 0 }]] as unknown as [mysql.RowDataPacket[]])
    return Number(rows[0]?.n) === 2
  })
  const app = await startInstance(t, config)
  const cookie = await login(app, 'S000001')

  // Freeze the replica: from now on it lags behind the primary.
  await replica.query('STOP SLAVE SQL_THREAD')
  await primary.query(
    `INSERT INTO \`${database}\`.courses (id, title, professor, credits, capacity) VALUES ('C0777', 'New', 'P', 3, 5)`,
  )
  const scrape = async (): Promise<string> =>
    (await fetch(`http://127.0.0.1:${app.metrics.address()?.port}/metrics`)).text()
  t.match(await scrape(), /^sugang_replica_lag_seconds \+Inf$/m, 'a stopped replica lags forever')
  const lagging = await app.inject({
    method: 'GET',
    url: '/api/v1/courses/C0777',
    headers: { cookie },
  })
  t.equal(lagging.statusCode, 404, 'the catalogue read went to the (lagging) replica')

  const queued = await app.inject({
    method: 'POST',
    url: '/api/v1/courses/C0001/enrollment-requests',
    headers: { cookie },
    payload: {},
  })
  t.equal(queued.statusCode, 202)
  const requestId = queued.json().requestId as string
  await waitFor('admission', async () => {
    const res = await app.inject({
      method: 'GET',
      url: `/api/v1/enrollment-requests/${requestId}`,
      headers: { cookie },
    })
    return res.json().status === 'enrolled'
  })
  const mine = await app.inject({
    method: 'GET',
    url: '/api/v1/me/enrollments',
    headers: { cookie },
  })
  t.same(
    mine.json().enrollments.map((e: { courseId: string }) => e.courseId),
    ['C0001'],
    'a student reads their own write at once, though the replica has not seen it',
  )
  const [onReplica] = await replica.query<mysql.RowDataPacket[]>(
    `SELECT COUNT(*) AS n FROM \`${database}\`.enrollments`,
  )
  t.equal(Number(onReplica[0]?.n), 0, 'the enrollment was written to the primary only')

  await replica.query('START SLAVE SQL_THREAD')
  await waitFor('the replica to catch up again', async () => {
    const res = await app.inject({
      method: 'GET',
      url: '/api/v1/courses/C0777',
      headers: { cookie },
    })
    return res.statusCode === 200
  })
  t.pass('the new course appears once the replica has it')
  t.match(await scrape(), /^sugang_replica_lag_seconds \d+$/m, 'and the lag is finite again')
})
