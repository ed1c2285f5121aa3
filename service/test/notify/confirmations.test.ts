import { randomUUID } from 'node:crypto'
import t from 'tap'
import { MysqlConfirmationOutbox } from '../../src/adapters/mysql/confirmation-outbox.js'
import { createPool } from '../../src/adapters/mysql/pool.js'
import { courseId, studentId } from '../../src/seed.js'
import { databaseUrlOf, waitFor } from '../helper.js'
import type { SesError } from '../support/fake-aws.js'
import { FROM, count, drain, enroll, enrollmentRows, outbox, setup } from './harness.js'

t.test('sends exactly one confirmation per enrollment, in Korean and English', async (t) => {
  const s = await setup(t, 'confirm', { students: 40, courses: 2, capacity: 30 })
  const students = Array.from({ length: 40 }, (_, i) => studentId(i + 1))
  await enroll(s, courseId(1), students)
  await enroll(s, courseId(2), students.slice(0, 12))
  const enrolled = await enrollmentRows(s.conn)
  t.equal(enrolled.length, 42, '30 seats of the first course and 12 of the second are taken')
  const rows = await outbox(s.conn)
  t.same(
    rows.map((r) => r.requestId).sort(),
    enrolled.map((e) => e.requestId).sort(),
    'the admission transactions wrote one outbox row per enrollment',
  )

  const notifier = await s.notifier()
  const report = await notifier.run()
  t.match(report, { claimed: 42, sent: 42, retried: 0, dead: 0, lost: 0 })
  t.equal(s.ses.accepted.length, 42)
  t.same((await notifier.run()).claimed, 0, 'a second run finds nothing due')
  t.equal(s.ses.accepted.length, 42, 'and sends nothing')

  const byAddress = count(s.ses.accepted.map((m) => `${m.to} ${m.tags.course}`))
  for (const e of enrolled) t.equal(byAddress.get(`${e.email} ${e.courseId}`), 1, e.requestId)
  const sample = s.ses.accepted[0]
  t.ok(sample)
  if (sample) {
    t.equal(sample.from, FROM)
    t.match(sample.subject, /수강 확정: .+ \/ Enrollment confirmed: /)
    t.match(sample.text, /수강신청이 확정되었습니다/)
    t.match(sample.text, /your enrollment is confirmed/)
    t.match(sample.text, /https:\/\/sugang\.example\.ac\.kr\//)
    t.match(sample.html, /<section lang="ko">.*<section lang="en">/s)
    t.same(sample.tags.kind, 'enrolled')
  }
  const after = await outbox(s.conn)
  t.ok(
    after.every((r) => r.state === 'sent' && r.attempts === 1),
    'every row is sent after one attempt',
  )
  t.same(
    after.map((r) => r.messageId).sort(),
    s.ses.accepted.map((m) => m.messageId).sort(),
    "each row records SES's message id",
  )
})

t.test(
  'concurrent senders never send a confirmation twice or leave one out (many rounds)',
  async (t) => {
    const ROUNDS = 6
    const STUDENTS = 30
    const s = await setup(t, 'confirmrace', {
      students: STUDENTS,
      courses: ROUNDS,
      capacity: STUDENTS,
    })
    const students = Array.from({ length: STUDENTS }, (_, i) => studentId(i + 1))
    const senders = await Promise.all(
      [1, 2, 3, 4].map((i) => s.notifier({ NOTIFY_BATCH_SIZE: String(i + 1) })),
    )
    for (let round = 1; round <= ROUNDS; round += 1) {
      await enroll(s, courseId(round), students)
      // Four senders at once, with batch sizes 2-5 so their claims interleave differently.
      const reports = await Promise.all(senders.map((n) => n.run()))
      t.equal(
        reports.reduce((sum, r) => sum + r.sent, 0),
        STUDENTS,
        `round ${round}: the four senders sent ${STUDENTS} between them`,
      )
      t.ok(
        reports.every((r) => r.lost === 0),
        `round ${round}: no claim was taken over`,
      )
    }
    const perRequest = count((await outbox(s.conn)).map((r) => r.state))
    t.same([...perRequest], [['sent', STUDENTS * ROUNDS]])
    const perMessage = count(s.ses.accepted.map((m) => `${m.to} ${m.tags.course}`))
    t.equal(perMessage.size, STUDENTS * ROUNDS, 'every enrollment got a message')
    t.ok(
      [...perMessage.values()].every((n) => n === 1),
      'no enrollment got two',
    )
  },
)

t.test(
  'SES errors are retried with backoff; a refused address ends dead without holding up the rest',
  async (t) => {
    const s = await setup(t, 'confirmerr', { students: 30, courses: 1, capacity: 30 })
    const students = Array.from({ length: 30 }, (_, i) => studentId(i + 1))
    const bad = studentId(7)
    await s.conn.query(`UPDATE students SET email = 'not-an-address' WHERE id = ?`, [bad])
    await enroll(s, courseId(1), students)

    // A third of the calls fail with an error SES answers under load, at random.
    const transient: SesError[] = [
      { status: 500, type: 'InternalFailure', message: 'internal failure' },
      { status: 429, type: 'TooManyRequestsException', message: 'Maximum sending rate exceeded.' },
      { status: 503, type: 'ServiceUnavailable', message: 'service unavailable' },
    ]
    s.ses.respond = (to) => {
      if (to === 'not-an-address') {
        return { status: 400, type: 'MessageRejected', message: 'Illegal address' }
      }
      return Math.random() < 0.35
        ? transient[Math.floor(Math.random() * transient.length)]
        : undefined
    }
    const notifier = await s.notifier({ NOTIFY_MAX_ATTEMPTS: '100' })
    await drain(notifier)

    const rows = await outbox(s.conn)
    const dead = rows.filter((r) => r.state === 'dead')
    t.equal(dead.length, 1, 'only the refused address is dead')
    t.match(dead[0], { attempts: 1, lastError: /MessageRejected: Illegal address/ })
    t.equal(rows.filter((r) => r.state === 'sent').length, 29, 'every other one is sent')
    t.ok(
      rows.some((r) => r.state === 'sent' && r.attempts > 1),
      'some were sent only on a later attempt',
    )
    t.ok(s.ses.calls > 30, 'SES was called again for the failed attempts')
    const perAddress = count(s.ses.accepted.map((m) => m.to))
    t.equal(perAddress.size, 29)
    t.ok(
      [...perAddress.values()].every((n) => n === 1),
      'SES accepted exactly one message per enrollment across the retries',
    )
    const b = await notifier.backlog()
    t.match(b, { pending: 0, sending: 0, dead: 1, oldestWaiting: null })

    const metrics = await (
      await fetch(`http://127.0.0.1:${s.app.metrics.address()?.port}/metrics`)
    ).text()
    t.match(metrics, /sugang_confirmations\{state="dead"\} 1/)
    t.match(metrics, /sugang_confirmations\{state="pending"\} 0/)
    t.match(metrics, /sugang_confirmation_oldest_waiting_seconds 0/)
  },
)

t.test('a message that keeps failing ends dead after its last attempt', async (t) => {
  const s = await setup(t, 'confirmgiveup', { students: 3, courses: 1, capacity: 3 })
  await enroll(s, courseId(1), [studentId(1), studentId(2), studentId(3)])
  const [email] = (await enrollmentRows(s.conn)).map((e) => e.email)
  s.ses.respond = (to) =>
    to === email ? { status: 500, type: 'InternalFailure', message: 'boom' } : undefined
  const notifier = await s.notifier({ NOTIFY_MAX_ATTEMPTS: '3' })
  await drain(notifier)
  const rows = await outbox(s.conn)
  t.match(
    rows.filter((r) => r.state === 'dead'),
    [{ attempts: 3, lastError: /^gave up after 3 attempts: InternalFailure/ }],
  )
  t.equal(rows.filter((r) => r.state === 'sent').length, 2)
  t.equal(s.ses.calls, 2 + 3, 'three attempts for the failing one, one for each other')
})

t.test('while SES refuses to send at all, nothing is used up and nothing is lost', async (t) => {
  const s = await setup(t, 'confirmpause', { students: 8, courses: 1, capacity: 8 })
  await enroll(
    s,
    courseId(1),
    Array.from({ length: 8 }, (_, i) => studentId(i + 1)),
  )
  s.ses.respond = () => ({
    status: 400,
    type: 'SendingPausedException',
    message: 'Sending is paused for this account.',
  })
  const notifier = await s.notifier({ NOTIFY_BATCH_SIZE: '3' })
  const report = await notifier.run()
  t.match(report, { sent: 0, dead: 0, paused: /SendingPausedException/ })
  t.ok(s.ses.calls <= 3, 'the run claims no batch after the first refusal')
  const rows = await outbox(s.conn)
  t.ok(
    rows.every((r) => r.state === 'pending' && r.attempts === 0),
    'every row is pending again with no attempt counted',
  )
  s.ses.respond = undefined
  await drain(notifier)
  t.equal(s.ses.accepted.length, 8, 'all are sent once sending resumes')
})

t.test(
  'a waitlist promotion is confirmed as such; an enrollment dropped before its e-mail is not confirmed',
  async (t) => {
    const s = await setup(t, 'confirmpromo', { students: 3, courses: 1, capacity: 1 })
    const course = courseId(1)
    const [first] = await enroll(s, course, [studentId(1)])
    await enroll(s, course, [studentId(2)], true)
    const cancel = await s.app.inject({
      method: 'DELETE',
      url: `/api/v1/me/enrollments/${course}`,
      headers: { cookie: s.cookies.get(studentId(1)) as string },
    })
    t.equal(cancel.statusCode, 204, cancel.body)
    const rows = await outbox(s.conn)
    t.same(
      rows.map((r) => [r.kind, r.state]),
      [
        ['enrolled', 'pending'],
        ['promoted', 'pending'],
      ],
    )
    t.equal(rows[0]?.requestId, first)

    const notifier = await s.notifier()
    t.match(await notifier.run(), { sent: 1, voided: 1 })
    t.equal(s.ses.accepted.length, 1)
    const [mail] = s.ses.accepted
    const [student2] = await s.conn.query('SELECT email FROM students WHERE id = ?', [studentId(2)])
    t.equal(mail?.to, student2[0]?.email)
    t.match(mail?.subject, /대기 후 수강 확정: .+ \/ Enrolled from the waitlist: /)
    t.match(mail?.text, /a seat opened in a course you were waitlisted for/)
    t.equal(mail?.tags.kind, 'promoted')
    t.same(
      (await outbox(s.conn)).map((r) => r.state),
      ['void', 'sent'],
    )
  },
)

t.test('a sender whose claim ran out can no longer record an outcome', async (t) => {
  const s = await setup(t, 'confirmlease', { students: 1, courses: 1, capacity: 1 })
  await enroll(s, courseId(1), [studentId(1)])
  const pool = createPool(databaseUrlOf(s.config), 2, 5_000)
  t.teardown(() => pool.end())
  const box = new MysqlConfirmationOutbox(pool)
  const slow = randomUUID()
  const [claimed] = await box.claim(10, 1, slow)
  t.ok(claimed, 'the first sender claims the row for 1 ms')
  const successor = randomUUID()
  const retaken = await waitFor('the claim to run out', async () => {
    const rows = await box.claim(10, 60_000, successor)
    return rows.length > 0 ? rows : null
  })
  t.equal(retaken[0]?.id, claimed?.id)
  t.equal(retaken[0]?.attempts, 2, 'the takeover counts as a second attempt')
  t.equal(
    await box.finish(claimed?.id ?? 0, slow, { kind: 'sent', messageId: 'late' }),
    false,
    'the first sender is fenced off',
  )
  t.equal(await box.finish(claimed?.id ?? 0, successor, { kind: 'sent', messageId: 'm-1' }), true)
  t.match(await outbox(s.conn), [{ state: 'sent', messageId: 'm-1' }])
})
