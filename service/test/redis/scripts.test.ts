import { randomBytes } from 'node:crypto'
import calculateSlot from 'cluster-key-slot'
import t from 'tap'
import { CLUSTER_COURSE_GROUPS, RedisKeys, SLOTS } from '../../src/adapters/redis/keys.js'
import {
  LuaScripts,
  loadLua,
  scriptNames,
  type EnqueueReply,
  type StudentCheck,
} from '../../src/adapters/redis/lua-scripts.js'
import type { Decision } from '../../src/domain/model.js'
import { clearQueue } from '../../src/adapters/redis/clear-queue.js'
import { REDIS_CLUSTER_NODES, REDIS_TARGET, redisClient } from '../helper.js'

/** On a Redis Cluster the student's keys sit in another slot than the course's (see keys.ts). */
const ON_CLUSTER = REDIS_CLUSTER_NODES !== null

/** The key schema the service uses on this Redis: one course group on a single node. */
function keySchema(prefix: string, courseGroups = ON_CLUSTER ? CLUSTER_COURSE_GROUPS : 1) {
  return new RedisKeys({ prefix, sessionTtlSeconds: 60, decidedTtlSeconds: 60, courseGroups })
}

/** The keys enqueue-request takes for a request of a course. */
function joining(keys: RedisKeys, courseId: string, requestId: string) {
  return {
    course: keys.course(courseId),
    activeCourses: keys.activeCoursesOf(courseId),
    request: keys.requestOf(courseId, requestId),
    requestPrefix: keys.requestPrefix(courseId),
  }
}

/** `count` course ids other than `courseId` in its slot group (ids C2, C3, ...). */
function coursesOfGroup(keys: RedisKeys, courseId: string, count: number): string[] {
  const found: string[] = []
  for (let n = 2; found.length < count; n += 1) {
    const id = `C${n}`
    if (id !== courseId && keys.courseGroup(id) === keys.courseGroup(courseId)) found.push(id)
  }
  return found
}

/**
 * The scripts on a real Redis (a single node, or a Redis Cluster with TEST_REDIS_CLUSTER_NODES),
 * under a prefix of this test's own, without the service around them. Every call's keys must
 * share a slot, as on a cluster, also on the single node.
 */
function setup(t: { teardown(fn: () => unknown): void }) {
  const prefix = `t:lua:${randomBytes(4).toString('hex')}:`
  const redis = redisClient(t)
  const keys = keySchema(prefix)
  const scripts = new LuaScripts(redis, { checkSlots: true })
  t.teardown(() => clearQueue(REDIS_TARGET, prefix))
  const course = keys.course('C1')
  /** The hash of a request of C1, as the service names it where it knows the course. */
  const request = (requestId: string) => keys.requestOf('C1', requestId)
  /** Request ids of C1 that name its group, as the service mints them: read by id alone. */
  const minted = new Map<string, string>()
  const id = (name: string): string => {
    const known = minted.get(name)
    if (known) return known
    const fresh = keys.newRequestId('C1')
    minted.set(name, fresh)
    return fresh
  }
  /**
   * Joins a queue as the service does on this Redis: the session and rate limit checked in the
   * same call on a single node, in a call of their own (authorize-request) first on a cluster.
   */
  const enqueue = async (
    studentId: string,
    requestId: string,
    options: {
      waitlist?: boolean
      refuseWhenFull?: boolean
      max?: number
      courseId?: string
      /** false: the student has no session. */
      session?: boolean
    } = {},
  ): Promise<EnqueueReply> => {
    const courseId = options.courseId ?? 'C1'
    const auth: StudentCheck = {
      session: keys.session(studentId, `sid-${studentId}`),
      rate: keys.requestRate(studentId, 1),
      max: options.max ?? 100,
      windowMs: 10_000,
    }
    if (options.session !== false) await redis.set(auth.session, studentId)
    if (ON_CLUSTER) {
      const allowed = await scripts.authorizeRequest(auth, {
        studentId,
        max: auth.max,
        windowMs: auth.windowMs,
      })
      if (allowed.code === 'rate-limited') return allowed
      if (allowed.code === 'unauthenticated') return { code: 'unauthenticated' }
    }
    return scripts.enqueueRequest(
      joining(keys, courseId, requestId),
      {
        studentId,
        requestId,
        courseId,
        waitlist: options.waitlist ?? false,
        refuseWhenFull: options.refuseWhenFull ?? true,
      },
      ON_CLUSTER ? undefined : auth,
    )
  }
  return { prefix, redis, keys, scripts, course, request, id, enqueue }
}

t.test('every script compiles with its includes spliced in', async (t) => {
  const { redis } = setup(t)
  const names = scriptNames()
  t.ok(names.length >= 12, `${names.length} scripts`)
  for (const name of names) {
    const lua = loadLua(name)
    t.notMatch(lua, /--@include/, `${name}: every include resolved`)
    t.match(await redis.script('LOAD', lua), /^[0-9a-f]{40}$/, `${name} compiles`)
  }
})

t.test(
  'enqueue-request: authenticates, limits, queues in order, refuses at the door',
  async (t) => {
    const { redis, keys, scripts, course, request, enqueue } = setup(t)
    t.same(await enqueue('S0', 'r0', { session: false }), { code: 'unauthenticated' })
    t.equal(await redis.exists(request('r0')), 0, 'a student without a session queues nothing')

    t.same(await enqueue('S1', 'r1'), {
      code: 'created',
      requestId: 'r1',
      status: 'queued',
      position: 1,
      queueLength: 1,
    })
    t.same(await redis.smembers(keys.activeCoursesOf('C1')), ['C1'], 'the course became active')
    t.same(await enqueue('S2', 'r2'), {
      code: 'created',
      requestId: 'r2',
      status: 'queued',
      position: 2,
      queueLength: 2,
    })
    t.same(await enqueue('S1', 'r3'), {
      code: 'existing',
      requestId: 'r1',
      status: 'queued',
      position: 1,
      queueLength: 2,
    })
    t.equal(await redis.get(course.arrivals), '2', "the course's arrival counter counts arrivals")
    const { t: joinedAt, ...fields } = await redis.hgetall(request('r1'))
    t.same(fields, {
      s: 'S1',
      c: 'C1',
      q: '1',
      w: '0',
      st: 'queued',
      jp: '1',
      jr: '0',
    })
    t.match(joinedAt, /^\d{13}$/, "when it joined, in ms on Redis's clock")
    t.same(
      await redis.hmget(request('r2'), 'jp', 'jr'),
      ['2', '0'],
      'where each joined, and how many the queue had let go of then',
    )

    const limited = await enqueue('S3', 'r4', { max: 0 })
    t.equal(limited.code, 'rate-limited')
    t.ok(
      limited.code === 'rate-limited' && limited.retryAfterMs > 0,
      'with the time left in the window',
    )

    await redis.hset(course.seats, 'v', 3, 'left', 0)
    t.equal(
      (await enqueue('S8', 'r10')).code,
      'created',
      'full, but the markers are not known complete (Redis lost data): not refused',
    )
    await redis.hset(course.seats, 'built', 1)
    t.same(await enqueue('S4', 'r5'), { code: 'course-full' }, 'full: refused at the door')
    t.equal(
      (await enqueue('S4', 'r6', { refuseWhenFull: false, waitlist: true })).code,
      'created',
      'unless the student would wait',
    )
    await scripts.markCancellation(course, 'c1', 60_000)
    t.equal(
      (await enqueue('S5', 'r7')).code,
      'created',
      'and not while a cancellation may free a seat',
    )

    await redis.hset(course.live, 'S6', 'E')
    t.same(await enqueue('S6', 'r8'), { code: 'already-enrolled' })
    await redis.hset(course.live, 'S7', 'expired')
    t.equal(
      (await enqueue('S7', 'r9')).code,
      'created',
      'a marker naming a forgotten request does not block',
    )
  },
)

t.test('authorize-request and the login counters', async (t) => {
  const { redis, keys, scripts } = setup(t)
  const session = keys.session('S1', 'sid')
  const rate = keys.requestRate('S1', 7)
  const args = { studentId: 'S1', max: 2, windowMs: 10_000 }
  t.same(await scripts.authorizeRequest({ session, rate }, args), { code: 'unauthenticated' })
  await redis.set(session, 'S1')
  t.same(
    await scripts.authorizeRequest({ session, rate }, { ...args, studentId: 'S2' }),
    { code: 'unauthenticated' },
    'the cookie must name the session owner',
  )
  t.same(await scripts.authorizeRequest({ session, rate }, args), { code: 'ok' })
  t.same(await scripts.authorizeRequest({ session, rate }, args), { code: 'ok' })
  const third = await scripts.authorizeRequest({ session, rate }, args)
  t.equal(third.code, 'rate-limited')

  const a = keys.loginFailures('address', '10.0.0.1')
  const b = keys.loginFailures('account', 'S1')
  const limits = [
    { max: 2, windowMs: 10_000 },
    { max: 1, windowMs: 10_000 },
  ]
  const first = await scripts.reserveAttempt([a, b], limits)
  t.equal(first.kind, 'reserved')
  const over = await scripts.reserveAttempt([a, b], limits)
  t.equal(over.kind === 'refused' && over.index, 1, 'the second counter reached its max first')
  t.ok(over.kind === 'refused' && over.retryAfterMs > 0)
  t.equal(await redis.get(a), '1', 'a refusal counts nothing')
  t.ok((await redis.pttl(a)) > 0, 'counters expire with their window')
  const windows = first.kind === 'reserved' ? first.windows : []
  t.same(windows, [String(await redis.pexpiretime(a)), String(await redis.pexpiretime(b))])
  t.equal(await scripts.releaseAttempt([a, b], ['1', windows[1]!]), 1, 'only in its own window')
  t.same([await redis.get(a), await redis.get(b)], ['1', '0'])
})

t.test('take-lease and release-lease', async (t) => {
  const { redis, scripts, course } = setup(t)
  t.equal(await scripts.takeLease(course.lease, 'a', 10_000), 'taken')
  t.equal(await scripts.takeLease(course.lease, 'a', 10_000), 'renewed')
  t.equal(await scripts.takeLease(course.lease, 'b', 10_000), 'held')
  t.equal(await scripts.releaseLease(course.lease, 'b'), false, 'only the holder releases')
  t.equal(await scripts.releaseLease(course.lease, 'a'), true)
  t.equal(await redis.exists(course.lease), 0)
})

t.test('settle-batch records decisions only for the lease holder', async (t) => {
  const { redis, keys, scripts, course, request, enqueue } = setup(t)
  for (const n of [1, 2, 3]) await enqueue(`S${n}`, `r${n}`)
  const decisions: Decision[] = [
    { requestId: 'r1', studentId: 'S1', status: 'enrolled' },
    { requestId: 'r2', studentId: 'S2', status: 'waitlisted', place: 7 },
    { requestId: 'r3', studentId: 'S3', status: 'rejected', reason: 'CREDIT_LIMIT' },
  ]
  const settle = (token: string, version: number, seatsLeft: number, d = decisions) =>
    scripts.settleBatch(
      {
        course,
        activeCourses: keys.activeCoursesOf('C1'),
        requests: d.map((x) => request(x.requestId)),
      },
      {
        token,
        ttlSeconds: 60,
        courseId: 'C1',
        seatsLeft,
        versionBefore: Math.max(0, version - 1),
        version,
        decisions: d,
      },
    )
  t.equal(await settle('nobody', 1, 0), 'lease-lost')
  t.equal(await redis.zcard(course.queue), 3, 'nothing written without the lease')

  await scripts.takeLease(course.lease, 'w', 10_000)
  t.equal(await settle('w', 1, 0), 0, 'the queue is empty')
  t.same(await redis.hmget(request('r1'), 'st', 'r'), ['enrolled', ''])
  t.same(await redis.hmget(request('r2'), 'st', 'r'), ['waitlisted', ''])
  t.same(await redis.hmget(request('r3'), 'st', 'r'), ['rejected', 'CREDIT_LIMIT'])
  t.same(await redis.hgetall(course.live), { S1: 'E', S2: 'r2' }, 'markers follow the decisions')
  t.same(await redis.hgetall(course.seats), { v: '1', left: '0', wv: '1', built: '1' })
  t.same(
    await redis.zrange(course.waitlist, 0, -1, 'WITHSCORES'),
    ['r2', '7'],
    'the waitlisted request is mirrored at its place',
  )
  t.same(
    await redis.smembers(keys.activeCoursesOf('C1')),
    [],
    'a drained course is no longer active',
  )
  t.equal(await redis.get(course.removed), '3', 'the queue counts what it let go of')
  t.ok((await redis.ttl(request('r1'))) > 0, 'decided requests expire')

  await settle('w', 0, 9, [])
  t.same(
    await redis.hgetall(course.seats),
    { v: '1', left: '0', wv: '1', built: '1' },
    'an older version never overwrites a newer one',
  )
})

t.test('settle-batch mirrors the waitlist only in version order', async (t) => {
  const { redis, keys, scripts, course, request, enqueue } = setup(t)
  await scripts.takeLease(course.lease, 'w', 10_000)
  const settle = (versionBefore: number, version: number, d: Decision[]) =>
    scripts.settleBatch(
      {
        course,
        activeCourses: keys.activeCoursesOf('C1'),
        requests: d.map((x) => request(x.requestId)),
      },
      {
        token: 'w',
        ttlSeconds: 60,
        courseId: 'C1',
        seatsLeft: 0,
        versionBefore,
        version,
        decisions: d,
      },
    )
  const waiting = (requestId: string, place?: number): Decision => ({
    requestId,
    studentId: `S-${requestId}`,
    status: 'waitlisted',
    ...(place === undefined ? {} : { place }),
  })
  const mirror = () => redis.zrange(course.waitlist, 0, -1, 'WITHSCORES')
  for (const r of ['a', 'b', 'a2', 'c', 'd']) await enqueue(`S-${r}`, r, { waitlist: true })

  await redis.zadd(course.waitlist, 1, 'left-over')
  await settle(0, 1, [waiting('a', 10), waiting('b', 11)])
  t.same(
    await mirror(),
    ['a', '10', 'b', '11'],
    'a course at version 0 has no waitlist: the mirror starts empty',
  )
  t.equal(await redis.hget(course.seats, 'wv'), '1')

  await settle(1, 2, [waiting('a2', 10)])
  t.same(await mirror(), ['a2', '10', 'b', '11'], "a student's newer request takes over the place")
  t.equal(await redis.hget(course.seats, 'wv'), '2')

  await settle(2, 2, [waiting('b', 11)])
  t.same(await mirror(), ['a2', '10', 'b', '11'], 'a batch that wrote nothing may repeat places')
  t.equal(await redis.hget(course.seats, 'wv'), '2')

  await settle(4, 5, [waiting('c', 20)])
  t.same(await mirror(), ['a2', '10', 'b', '11'], 'a change after a missed one is not mirrored')
  t.same(
    await redis.hmget(course.seats, 'v', 'wv'),
    ['5', '2'],
    'the mirror stays behind the seat cache until it is rebuilt',
  )

  await redis.hset(course.seats, 'wv', 5)
  await settle(5, 6, [waiting('d')])
  t.equal(
    await redis.hget(course.seats, 'wv'),
    null,
    'a waitlisted decision without its place leaves the mirror unknown',
  )
})

t.test(
  'reject-head acts only on a cache that says full, and stops at a decided request',
  async (t) => {
    const { redis, scripts, course, request, enqueue } = setup(t)
    for (const n of [1, 2, 3]) await enqueue(`S${n}`, `r${n}`)
    await scripts.takeLease(course.lease, 'w', 10_000)
    const reject = (ids: number[], token = 'w') =>
      scripts.rejectHead(
        { course, requests: ids.map((n) => request(`r${n}`)) },
        {
          token,
          ttlSeconds: 60,
          rejections: ids.map((n) => ({
            requestId: `r${n}`,
            studentId: `S${n}`,
            reason: 'COURSE_FULL' as const,
          })),
        },
      )
    t.equal(await reject([1]), 'not-full', 'no seat cache: not known to be full')
    await redis.hset(course.seats, 'v', 1, 'left', 1, 'built', 1)
    t.equal(await reject([1]), 'not-full', 'seats left')
    await redis.hset(course.seats, 'left', 0)
    await redis.hdel(course.seats, 'built')
    t.equal(await reject([1]), 'not-full', 'full, but the markers are not known complete')
    await redis.hset(course.seats, 'built', 1)
    t.equal(await reject([1], 'other'), 'lease-lost')
    await scripts.markCancellation(course, 'c', 60_000)
    t.equal(await reject([1]), 'not-full', 'a cancellation in flight may free a seat')
    await redis.del(course.cancelling)

    await redis.zrem(course.queue, 'r2') // decided meanwhile (it cannot be, under the lease: a guard)
    t.equal(await reject([1, 2, 3]), 1, 'stops at the first request no longer queued')
    t.same(await redis.hmget(request('r1'), 'st', 'r'), ['rejected', 'COURSE_FULL'])
    t.equal(await redis.hget(course.live, 'S1'), null, 'the rejected student may ask again')
    t.equal(await redis.get(course.removed), '1', 'and the queue counts it as let go of')
    t.equal(await redis.hget(request('r3'), 'st'), 'queued')
  },
)

t.test('reflect-cancellation is idempotent and never moves the cache back', async (t) => {
  const { redis, scripts, course, request, enqueue } = setup(t)
  await redis.hset(course.seats, 'v', 3, 'left', 0, 'wv', 3)
  await redis.hset(course.live, 'S1', 'E')
  for (const n of [2, 3]) await enqueue(`S${n}`, `w${n}`, { waitlist: true, refuseWhenFull: false })
  for (const n of [2, 3]) await redis.hset(request(`w${n}`), 'st', 'waitlisted')
  await redis.zadd(course.waitlist, 2, 'w2', 3, 'w3', 4, 'w4')
  await scripts.markCancellation(course, 'c1', 60_000)
  const reflect = (version: number) =>
    scripts.reflectCancellation(
      { course, promoted: request('w3'), dropped: [request('w2')] },
      {
        cancellationId: 'c1',
        studentId: 'S1',
        seatsLeft: 0,
        versionBefore: version - 1,
        version,
        ttlSeconds: 60,
        promoted: { studentId: 'S3', requestId: 'w3' },
        dropped: [{ requestId: 'w2', studentId: 'S2', reason: 'CREDIT_LIMIT' }],
      },
    )
  await reflect(4)
  await reflect(4)
  t.same(await redis.hgetall(course.seats), { v: '4', left: '0', wv: '4' })
  t.same(
    await redis.zrange(course.waitlist, 0, -1),
    ['w4'],
    'the promoted and the dropped left the waitlist mirror',
  )
  t.same(
    await redis.hgetall(course.live),
    { S3: 'E' },
    'the canceller is free, the promoted enrolled, the dropped free',
  )
  t.same(await redis.hmget(request('w2'), 'st', 'r'), ['rejected', 'CREDIT_LIMIT'])
  t.equal(await redis.hget(request('w3'), 'st'), 'enrolled')
  t.equal(await redis.zcard(course.cancelling), 0, 'the mark is removed')

  await redis.hset(course.seats, 'v', 9, 'left', 5, 'wv', 9)
  await redis.hset(course.live, 'S1', 'E')
  await redis.zadd(course.waitlist, 3, 'w3')
  await reflect(4)
  t.same(
    await redis.hgetall(course.seats),
    { v: '9', left: '5', wv: '9' },
    'a late retry does not undo newer state',
  )
  t.equal(await redis.hget(course.live, 'S1'), 'E', "nor the canceller's later enrollment")
  t.same(await redis.zrange(course.waitlist, 0, -1), ['w3', 'w4'], 'nor the newer mirror')

  await reflect(11)
  t.same(
    await redis.hmget(course.seats, 'v', 'wv'),
    ['11', '9'],
    'a cancellation after a missed change leaves the mirror behind',
  )
  t.same(await redis.zrange(course.waitlist, 0, -1), ['w3', 'w4'])
})

t.test('repair-course rebuilds the cache from a snapshot unless the cache is as new', async (t) => {
  const { redis, scripts, course, request, enqueue } = setup(t)
  await enqueue('S2', 'q2') // enrolled in the snapshot, marker names a request still queued
  await redis.hset(course.seats, 'v', 2, 'left', 0, 'built', 1)
  await redis.hset(course.live, 'GONE', 'E') // cancelled, never reflected
  await redis.hset(course.live, 'S3', 'd3') // enrolled, marker names a decided request
  await redis.hset(request('d3'), 'st', 'rejected')
  await redis.hset(course.live, 'S4', 'x4') // enrolled, marker changed after the caller read it
  await redis.zadd(course.cancelling, 1, 'old') // a mark that expired long ago
  await redis.hset(course.seats, 'wv', 2)
  await redis.zadd(course.waitlist, 5, 'promoted-long-ago', 8, 'w8')
  await redis.hset(course.live, 'S8', 'old8') // waitlisted; marker names a request now decided
  await redis.hset(request('old8'), 'st', 'rejected')
  await redis.hset(request('w8'), 's', 'S8', 'c', 'C1', 'st', 'waitlisted', 'q', '7')
  const waitlist = [
    { requestId: 'w8', place: 8, studentId: 'S8' },
    { requestId: 'w9', place: 9, studentId: 'S9' }, // waitlisted; marker and hash lost
  ]
  const repair = (
    version: number,
    markers = [
      { studentId: 'S2', requestId: 'q2' },
      { studentId: 'S3', requestId: 'd3' },
      { studentId: 'S4', requestId: 'read-before' },
      { studentId: 'S8', requestId: 'old8' },
    ],
  ) =>
    scripts.repairCourse(
      {
        course,
        waitlistedRequests: waitlist.map((w) => request(w.requestId)),
        markedRequests: markers.map((m) => request(m.requestId)),
      },
      {
        courseId: 'C1',
        version,
        seatsLeft: 1,
        ttlSeconds: 60,
        students: ['S1', 'S2', 'S3', 'S4'],
        waitlist,
        markers,
      },
    )
  t.equal(await repair(2), false, 'the cache already reflects this version')
  t.equal(await repair(3), true)
  t.same(await redis.hgetall(course.seats), { v: '3', left: '1', wv: '3', built: '1' })
  t.same(await redis.hgetall(course.live), {
    S1: 'E',
    S2: 'q2',
    S3: 'E',
    S4: 'x4',
    S8: 'w8',
    S9: 'w9',
  })
  t.same(
    await redis.hgetall(request('w9')),
    { s: 'S9', c: 'C1', w: '1', st: 'waitlisted' },
    "a waitlisted request's lost hash is rebuilt",
  )
  t.ok((await redis.ttl(request('w9'))) > 0, 'and expires like a decided one')
  t.equal(await redis.hget(request('w8'), 'q'), '7', 'a hash still there is left alone')
  t.same(
    await redis.zrange(course.waitlist, 0, -1, 'WITHSCORES'),
    ['w8', '8', 'w9', '9'],
    "the waitlist mirror is replaced by the snapshot's",
  )
  t.equal(await redis.zcard(course.cancelling), 0, 'expired cancellation marks are cleared')

  // The seat cache is as new, the mirror was left behind (a change reached it out of order).
  await redis.hset(course.seats, 'v', 4, 'left', 0, 'wv', 2)
  await redis.hset(course.live, 'S1', 'q1')
  await redis.zadd(course.waitlist, 10, 'ghost')
  t.equal(await repair(4), true, 'a mirror behind is repaired on its own')
  t.same(await redis.hgetall(course.seats), { v: '4', left: '0', wv: '4', built: '1' })
  t.equal(await redis.hget(course.live, 'S1'), 'q1', 'the seat cache and markers are left alone')
  t.same(await redis.zrange(course.waitlist, 0, -1), ['w8', 'w9'])

  // Redis lost data: a batch wrote the seat cache at version 6 over markers it cannot vouch for.
  await redis.del(course.live, course.waitlist)
  await redis.hset(course.seats, 'v', 6, 'left', 0)
  await redis.hdel(course.seats, 'built', 'wv')
  await redis.hset(course.live, 'S2', 'q2') // enrolled, and asked again since the loss
  await enqueue('S9', 'q9') // waitlisted, and asked again since the loss
  t.equal(await repair(5), false, 'a snapshot older than the seat cache cannot rebuild it')
  t.equal(
    await repair(6, [
      { studentId: 'S2', requestId: 'q2' },
      { studentId: 'S9', requestId: 'q9' },
    ]),
    true,
    'one as new can',
  )
  t.same(await redis.hgetall(course.seats), { v: '6', left: '1', wv: '6', built: '1' })
  t.same(
    await redis.hgetall(course.live),
    { S1: 'E', S2: 'E', S3: 'E', S4: 'E', S8: 'w8', S9: 'w9' },
    'every marker is rebuilt; a queued request of an enrolled or waitlisted student is overruled',
  )
  t.same(await redis.zrange(course.waitlist, 0, -1), ['w8', 'w9'])
})

t.test('the seat cache vouches for the markers only through changes that follow it', async (t) => {
  const { redis, keys, scripts, course } = setup(t)
  await scripts.takeLease(course.lease, 'w', 10_000)
  const settle = (versionBefore: number, version: number) =>
    scripts.settleBatch(
      { course, activeCourses: keys.activeCoursesOf('C1'), requests: [] },
      {
        token: 'w',
        ttlSeconds: 60,
        courseId: 'C1',
        seatsLeft: 0,
        versionBefore,
        version,
        decisions: [],
      },
    )
  const built = () => redis.hget(course.seats, 'built')
  await settle(3, 4)
  t.equal(await built(), null, 'a first write after version 0: what came before is unknown')
  await settle(4, 5)
  t.equal(await built(), null, 'and stays unknown through later changes')
  await redis.del(course.seats)
  await settle(0, 1)
  t.equal(await built(), '1', 'a course changed only from version 0 has nothing to miss')
  await settle(1, 2)
  await settle(2, 2)
  await settle(1, 2)
  t.equal(await built(), '1', 'the next change, a change of nothing, a retry: all follow')
  await settle(3, 4)
  t.equal(await built(), null, 'a change after a missed one leaves the markers unknown')
  t.same(await redis.hmget(course.seats, 'v', 'left'), ['4', '0'], 'the seats are still written')
})

t.test('read-request: the request and its place, in its queue or on the waitlist', async (t) => {
  const { redis, keys, scripts, course, id, enqueue } = setup(t)
  /** Reads by id alone, as a status check does: the id names the course's slot group. */
  const read = (name: string) => {
    const requestId = id(name)
    return scripts.readRequest(
      { request: keys.request(requestId), course: keys.courseKeysAround(requestId) },
      requestId,
    )
  }
  t.same(await read('nothing'), { code: 'missing' })

  await enqueue('S1', id('q1'))
  await enqueue('S2', id('q2'))
  t.same(await read('q2'), {
    code: 'placed',
    studentId: 'S2',
    courseId: 'C1',
    status: 'queued',
    reason: '',
    joinedPosition: '2',
    joinedRemoved: '0',
    position: 2,
  })
  await redis.zrem(course.queue, id('q1'))
  t.match(await read('q2'), { code: 'placed', position: 1 }, 'the queue moved up')
  t.match(await read('q1'), { code: 'no-place', status: 'queued', position: null })

  for (const n of [3, 4, 5]) {
    await enqueue(`S${n}`, id(`w${n}`), { waitlist: true })
    await redis.hset(keys.request(id(`w${n}`)), 'st', 'waitlisted')
  }
  await redis.hset(course.seats, 'v', 6, 'left', 0, 'wv', 6)
  await redis.zadd(course.waitlist, 30, id('w3'), 40, id('w4'))
  t.match(await read('w4'), { code: 'placed', status: 'waitlisted', position: 2 })
  t.match(
    await read('w5'),
    { code: 'no-place', position: null },
    'waitlisted, but not on the mirror',
  )

  await scripts.markCancellation(course, 'c1', 60_000)
  t.match(
    await read('w4'),
    { code: 'ask-store', status: 'waitlisted', position: null },
    'a cancellation in flight may have moved the waitlist',
  )
  t.match(await read('q2'), { code: 'placed', position: 1 }, 'the queue still answers')
  await redis.zadd(course.cancelling, 1, 'c1')
  t.match(await read('w4'), { code: 'placed', position: 2 }, 'an expired mark holds nothing up')

  await redis.hset(course.seats, 'v', 7)
  t.match(await read('w4'), { code: 'ask-store' }, 'a mirror behind the seat cache cannot vouch')
  await redis.hdel(course.seats, 'wv')
  t.match(await read('w4'), { code: 'ask-store' }, 'nor one whose version is unknown')
  await redis.del(course.seats)
  t.match(await read('w4'), { code: 'ask-store' }, 'nor one without a seat cache')

  await redis.hset(keys.request(id('w3')), 'st', 'rejected', 'r', 'CREDIT_LIMIT')
  t.match(await read('w3'), {
    code: 'no-place',
    status: 'rejected',
    reason: 'CREDIT_LIMIT',
    position: null,
  })
})

t.test(
  'read-request with a session: authenticated and rate-limited in the same call',
  async (t) => {
    const { redis, keys, scripts, id, enqueue } = setup(t)
    const requestId = id('q1')
    await enqueue('S1', requestId)
    const session = keys.session('S1', 'sid-S1')
    const rate = keys.requestRate('S1', 9)
    const read = (studentId: string, max = 2) =>
      scripts.readRequest(
        { request: keys.request(requestId), course: keys.courseKeysAround(requestId) },
        requestId,
        { session, rate, studentId, max, windowMs: 10_000 },
      )
    if (ON_CLUSTER) {
      await t.rejects(
        read('S1'),
        /CROSSSLOT/,
        "a cluster refuses the combined call: the student's keys sit in another slot",
      )
      t.equal(await redis.get(rate), null, 'nothing was counted')
      return
    }
    t.same(await read('S2'), { code: 'unauthenticated' }, 'the cookie must name the session owner')
    t.equal(await redis.get(rate), null, 'a refused session counts nothing')
    t.match(await read('S1'), { code: 'placed', studentId: 'S1', position: 1 })
    t.match(await read('S1'), { code: 'placed' })
    const third = await read('S1')
    t.equal(third.code, 'rate-limited')
    t.ok(third.code === 'rate-limited' && third.retryAfterMs > 0 && third.retryAfterMs <= 10_000)
    await redis.del(session)
    t.same(await read('S1'), { code: 'unauthenticated' }, 'a session that ended')
  },
)

t.test('forget-idle-course and raise-counters', async (t) => {
  const { redis, keys, scripts, course, enqueue } = setup(t)
  await enqueue('S1', 'r1')
  t.equal(
    await scripts.forgetIdleCourse(course, keys.activeCoursesOf('C1'), 'C1'),
    false,
    'a course with a queue stays active',
  )
  await redis.zrem(course.queue, 'r1')
  t.equal(await scripts.forgetIdleCourse(course, keys.activeCoursesOf('C1'), 'C1'), true)
  t.same(await redis.smembers(keys.activeCoursesOf('C1')), [])
  t.equal(await scripts.raiseCounters([{ key: course.arrivals, least: 50 }]), 1)
  t.equal(await redis.get(course.arrivals), '50')
  t.equal(await scripts.raiseCounters([{ key: course.arrivals, least: 10 }]), 0, 'never lowered')
  t.equal(await redis.get(course.arrivals), '50')
})

t.test(
  'arrival numbers are per course; raise-counters raises only the counters named',
  async (t) => {
    const { redis, keys, scripts, course, request, enqueue } = setup(t)
    // Courses of C1's group: one call may raise several counters only within one slot.
    const [other, untouched] = coursesOfGroup(keys, 'C1', 2) as [string, string]
    const counters = () =>
      Promise.all(
        ['C1', other, untouched].map((courseId) => redis.get(keys.course(courseId).arrivals)),
      )
    await enqueue('S1', 'a1')
    await enqueue('S2', 'a2')
    t.match(await enqueue('S1', 'b1', { courseId: other }), { code: 'created', position: 1 })
    t.same(
      [await redis.hget(request('a2'), 'q'), await redis.hget(keys.requestOf(other, 'b1'), 'q')],
      ['2', '1'],
      'each course numbers its own arrivals from 1',
    )
    t.same(await counters(), ['2', '1', null])

    t.equal(
      await scripts.raiseCounters([
        { key: course.arrivals, least: 10 },
        { key: keys.course(other).arrivals, least: 1 },
      ]),
      1,
      'a counter already at its value is not raised',
    )
    t.same(await counters(), ['10', '1', null], 'a counter not named is left alone')
    t.equal(
      await scripts.raiseCounters([
        { key: course.arrivals, least: 5 },
        { key: keys.course(other).arrivals, least: 3 },
      ]),
      1,
    )
    t.same(await counters(), ['10', '3', null], 'never lowered')
    await enqueue('S3', 'a3')
    t.equal(await redis.hget(request('a3'), 'q'), '11', 'arrivals go on above the raised value')
  },
)

t.test('enqueue-request checks a session only when given one', async (t) => {
  const { redis, keys, scripts, course, request } = setup(t)
  const join = (studentId: string, requestId: string, auth?: StudentCheck) =>
    scripts.enqueueRequest(
      joining(keys, 'C1', requestId),
      { studentId, requestId, courseId: 'C1', waitlist: false, refuseWhenFull: true },
      auth,
    )
  t.same(
    await join('S1', 'r1'),
    { code: 'created', requestId: 'r1', status: 'queued', position: 1, queueLength: 1 },
    'without one it queues: on a cluster the session was checked in a call of its own',
  )
  t.equal(await redis.hget(request('r1'), 's'), 'S1')

  const auth: StudentCheck = {
    session: keys.session('S2', 'sid'),
    rate: keys.requestRate('S2', 1),
    max: 5,
    windowMs: 10_000,
  }
  if (ON_CLUSTER) {
    await t.rejects(
      join('S2', 'r2', auth),
      /CROSSSLOT/,
      "a cluster refuses the combined call: the student's keys sit in another slot",
    )
    t.equal(await redis.zcard(course.queue), 1, 'nothing was queued')
    return
  }
  t.same(await join('S2', 'r2', auth), { code: 'unauthenticated' }, 'a missing session')
  t.equal(await redis.zcard(course.queue), 1, 'nothing was queued')
  t.equal(await redis.get(auth.rate), null, 'a refused session counts nothing')
  await redis.set(auth.session, 'S2')
  t.match(await join('S2', 'r2', auth), { code: 'created', position: 2 })
  t.equal(await redis.get(auth.rate), '1', 'counted against the limit in the same call')
})

t.test('with checkSlots, a call whose keys span slots is refused before Redis', async (t) => {
  const { prefix, redis, scripts } = setup(t)
  const keys = keySchema(prefix, 64)
  const a = 'C1'
  let b = 'C2'
  for (let n = 3; keys.courseGroup(b) === keys.courseGroup(a); n += 1) b = `C${n}`
  const args = {
    studentId: 'S1',
    requestId: 'r1',
    courseId: a,
    waitlist: false,
    refuseWhenFull: true,
  }
  await t.rejects(
    scripts.enqueueRequest(
      { ...joining(keys, a, 'r1'), activeCourses: keys.activeCoursesOf(b) },
      args,
    ),
    /enqueue-request would cross slots/,
    "a course's keys with another group's active set",
  )
  t.equal(await redis.exists(keys.course(a).queue), 0, 'nothing reached Redis')
  await t.rejects(
    scripts.forgetIdleCourse(keys.course(a), keys.activeCoursesOf(b), a),
    /forget-idle-course would cross slots/,
  )
  await t.rejects(
    scripts.raiseCounters([
      { key: keys.course(a).arrivals, least: 5 },
      { key: keys.course(b).arrivals, least: 5 },
    ]),
    /raise-counter would cross slots/,
    'counters of two groups',
  )
  t.same(
    [await redis.get(keys.course(a).arrivals), await redis.get(keys.course(b).arrivals)],
    [null, null],
    'neither was raised',
  )

  const auth: StudentCheck = {
    session: keys.session('S1', 'sid'),
    rate: keys.requestRate('S1', 1),
    max: 5,
    windowMs: 10_000,
  }
  await t.rejects(
    scripts.enqueueRequest(joining(keys, a, 'r1'), args, {
      ...auth,
      rate: keys.requestRate('S2', 1),
    }),
    /would cross slots/,
    'the session and counter must share a slot of their own',
  )
  await redis.set(auth.session, 'S1')
  const combined = scripts.enqueueRequest(joining(keys, a, 'r1'), args, auth)
  if (ON_CLUSTER) {
    await t.rejects(
      combined,
      /CROSSSLOT/,
      'the combined call passes the check and reaches the cluster, which refuses it',
    )
  } else {
    t.match(await combined, { code: 'created', requestId: 'r1' }, 'the combined call is accepted')
  }
})

t.test(
  "keys: a course's keys, its requests and its active set share a slot; groups spread evenly",
  async (t) => {
    const keys = keySchema('p:', 64)
    const groups = new Set<number>()
    const misplaced: string[] = []
    const split: string[] = []
    for (let n = 1; n <= 1_000; n += 1) {
      const courseId = `C${n}`
      groups.add(keys.courseGroup(courseId))
      const requestId = keys.newRequestId(courseId)
      if (keys.request(requestId) !== keys.requestOf(courseId, requestId)) misplaced.push(courseId)
      const around = keys.courseKeysAround(requestId)
      const courseKeys = [
        ...Object.values(keys.course(courseId)),
        ...Object.values(around).map((k) => k.before + courseId + k.after),
        keys.requestOf(courseId, requestId),
        keys.requestPrefix(courseId) + 'other',
        keys.activeCoursesOf(courseId),
      ]
      if (new Set(courseKeys.map((k) => calculateSlot(k))).size !== 1) split.push(courseId)
    }
    t.equal(groups.size, 64, 'the courses cover every group')
    t.same(misplaced, [], "a request id names its course's group")
    t.same(split, [], "every course's keys hash to one slot")
    t.same(
      Object.values(keys.courseKeysAround(keys.newRequestId('C7'))).map(
        (k) => k.before + 'C7' + k.after,
      ),
      Object.values(keys.course('C7')),
      "the keys a read builds around the course id are the course's own",
    )

    // The slot ranges of three primaries, as redis-cli --cluster create splits them.
    const shards = [5_461, 10_923, SLOTS]
    const perShard = [0, 0, 0]
    const outOfRange: number[] = []
    for (let group = 0; group < 64; group += 1) {
      const slot = calculateSlot(keys.activeCourses(group))
      if (Math.floor((slot * 64) / SLOTS) !== group) outOfRange.push(group)
      perShard[shards.findIndex((end) => slot < end)]! += 1
    }
    t.same(outOfRange, [], "each group's slot lies in the group's own 64th of the slots")
    t.same(perShard, [21, 21, 22], 'every shard holds an even share of the groups')

    t.equal(
      calculateSlot(keys.session('S1', 'sid')),
      calculateSlot(keys.requestRate('S1', 3)),
      "a student's session and counters share a slot",
    )
    t.equal(
      calculateSlot(keys.loginFailures('address', '10.0.0.1')),
      calculateSlot(keys.loginFailures('account', 'S1')),
      'login-failure counters share a slot',
    )
  },
)
