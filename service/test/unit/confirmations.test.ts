import t from 'tap'
import { refusalScope } from '../../src/adapters/ses/mailer.js'
import { renderConfirmation } from '../../src/domain/confirmation-mail.js'
import {
  DEFAULT_CONFIRMATION_SETTINGS,
  MailRefused,
  backoffDelayMs,
  outcomeOfRefusal,
  sendConfirmations,
  type ClaimedConfirmation,
  type ConfirmationOutbox,
  type ConfirmationOutcome,
} from '../../src/domain/confirmations.js'
import { metricsLine } from '../../src/lambda/notify-email.js'

const confirmation = (over: Partial<ClaimedConfirmation> = {}): ClaimedConfirmation => ({
  id: 1,
  kind: 'enrolled',
  attempts: 1,
  requestId: '00000000-0000-4000-8000-000000000001',
  student: { id: 'S000001', name: '김학생', email: 's000001@example.ac.kr' },
  course: {
    id: 'CSE101',
    title: '자료구조',
    professor: '이교수',
    credits: 3,
    meetings: [
      { day: 'MON', start: 3, end: 4, room: '공학관 101' },
      { day: 'WED', start: 3, end: 3, room: '' },
    ],
  },
  stillEnrolled: true,
  ...over,
})

t.test('backoff doubles from the base, is capped, and never drops below half', async (t) => {
  const settings = { backoffBaseMs: 1000, backoffMaxMs: 10_000 }
  t.same(
    [1, 2, 3, 4, 5, 6].map((n) => backoffDelayMs(n, settings, () => 1)),
    [1000, 2000, 4000, 8000, 10_000, 10_000],
  )
  t.same(
    [1, 2, 3, 4, 5, 6].map((n) => backoffDelayMs(n, settings, () => 0)),
    [500, 1000, 2000, 4000, 5000, 5000],
  )
})

t.test('a refusal decides the outcome by its scope and the attempts used', async (t) => {
  const s = { ...DEFAULT_CONFIRMATION_SETTINGS, maxAttempts: 3 }
  t.match(outcomeOfRefusal(new MailRefused('message', 'bad address'), 1, s), {
    kind: 'dead',
    error: 'bad address',
  })
  t.same(outcomeOfRefusal(new MailRefused('account', 'paused'), 2, s), { kind: 'release' })
  t.match(
    outcomeOfRefusal(new MailRefused('transient', 'throttled'), 2, s, () => 0),
    {
      kind: 'retry',
      delayMs: 30_000,
    },
  )
  t.match(outcomeOfRefusal(new MailRefused('transient', 'throttled'), 3, s), {
    kind: 'dead',
    error: 'gave up after 3 attempts: throttled',
  })
})

t.test('SES errors are sorted into message, account and transient refusals', async (t) => {
  const named = (name: string) => Object.assign(new Error(name), { name })
  t.equal(refusalScope(named('MessageRejected')), 'message')
  t.equal(refusalScope(named('BadRequestException')), 'message')
  t.equal(refusalScope(named('SendingPausedException')), 'account')
  t.equal(refusalScope(named('AccountSuspendedException')), 'account')
  t.equal(refusalScope(named('MailFromDomainNotVerifiedException')), 'account')
  t.equal(refusalScope(named('TooManyRequestsException')), 'transient')
  t.equal(refusalScope(named('InternalFailure')), 'transient')
  t.equal(
    refusalScope(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })),
    'transient',
  )
})

t.test('the e-mail says what was committed, in Korean and English', async (t) => {
  const mail = renderConfirmation(confirmation(), { siteUrl: 'https://sugang.example.ac.kr/' })
  t.equal(mail.to, 's000001@example.ac.kr')
  t.equal(mail.subject, '[수강신청] 수강 확정: 자료구조 / Enrollment confirmed: 자료구조')
  t.match(mail.text, /김학생님, 수강신청이 확정되었습니다\./)
  t.match(mail.text, /과목: CSE101 자료구조/)
  t.match(mail.text, /시간: 월 3-4교시 \(공학관 101\), 수 3교시/)
  t.match(mail.text, /Time: Mon period 3-4 \(공학관 101\), Wed period 3/)
  t.match(mail.text, /Dear 김학생, your enrollment is confirmed\./)
  t.match(mail.html, /<a href="https:\/\/sugang\.example\.ac\.kr\/">/)
  t.same(mail.tags, { kind: 'enrolled', course: 'CSE101' })

  const promoted = renderConfirmation(confirmation({ kind: 'promoted' }))
  t.match(promoted.subject, /대기 후 수강 확정: 자료구조 \/ Enrolled from the waitlist: 자료구조/)
  t.notMatch(promoted.text, /시간표 확인/, 'no link without a site URL')
})

t.test('names and titles cannot inject markup or mail headers', async (t) => {
  const mail = renderConfirmation(
    confirmation({
      student: { id: 'S1', name: '<script>alert(1)</script>', email: 'a@example.ac.kr' },
      course: {
        id: 'C1',
        title: 'Evil\r\nBcc: victim@example.com',
        professor: 'P & "Q"',
        credits: 1,
        meetings: [],
      },
    }),
  )
  t.notMatch(mail.subject, /[\r\n]/)
  t.notMatch(mail.html, /<script>/)
  t.match(mail.html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/)
  t.match(mail.html, /P &amp; &quot;Q&quot;/)
  t.match(mail.text, /시간: 시간 미정/)
})

t.test('the Lambda reports its run in CloudWatch embedded metric format', async (t) => {
  const now = new Date('2026-03-02T01:00:30Z')
  const line = JSON.parse(
    metricsLine(
      'sugang-small-notify-email',
      { claimed: 5, sent: 3, retried: 1, dead: 1, voided: 0, released: 0, lost: 0 },
      { pending: 1, sending: 0, dead: 4, oldestWaiting: new Date('2026-03-02T01:00:00Z') },
      now,
    ),
  ) as Record<string, unknown>
  t.match(line, {
    _aws: {
      Timestamp: now.getTime(),
      CloudWatchMetrics: [{ Namespace: 'sugang', Dimensions: [['FunctionName']] }],
    },
    FunctionName: 'sugang-small-notify-email',
    ConfirmationsSent: 3,
    ConfirmationsRetried: 1,
    ConfirmationsFailed: 1,
    ConfirmationsPending: 1,
    ConfirmationsDead: 4,
    ConfirmationOldestWaitingSeconds: 30,
  })
  const declared = (
    line._aws as { CloudWatchMetrics: [{ Metrics: { Name: string }[] }] }
  ).CloudWatchMetrics[0].Metrics.map((m) => m.Name)
  for (const name of declared) t.type(line[name], 'number', `${name} has a value`)
})

/** An outbox in memory with the real one's claim rules, for the loop's own behaviour. */
function memoryOutbox(rows: ClaimedConfirmation[]) {
  const state = new Map(rows.map((r) => [r.id, { row: r, token: '', done: false, due: 0 }]))
  const outcomes: Array<[number, ConfirmationOutcome]> = []
  let now = 0
  const outbox: ConfirmationOutbox = {
    async claim(limit, _leaseMs, token) {
      now += 1
      const due = [...state.values()].filter((s) => !s.done && s.due <= now).slice(0, limit)
      for (const s of due) {
        s.token = token
        s.row = { ...s.row, attempts: s.row.attempts + 1 }
      }
      return due.map((s) => s.row)
    },
    async finish(id, token, outcome) {
      const s = state.get(id)
      if (!s || s.token !== token) return false
      outcomes.push([id, outcome])
      if (outcome.kind === 'retry') s.due = now + 1
      else if (outcome.kind === 'release') s.due = now + 1000
      else s.done = true
      return true
    },
    async backlog() {
      return { pending: 0, sending: 0, dead: 0, oldestWaiting: null }
    },
    async resolveDead() {
      return 0
    },
  }
  return { outbox, outcomes }
}

t.test('one bad address does not hold up the rest of its batch', async (t) => {
  const rows = [1, 2, 3, 4, 5].map((id) =>
    confirmation({
      id,
      attempts: 0,
      student: { id: `S${id}`, name: 'n', email: id === 2 ? 'bad' : `s${id}@example.ac.kr` },
    }),
  )
  const { outbox, outcomes } = memoryOutbox(rows)
  const sent: string[] = []
  const report = await sendConfirmations({
    outbox,
    render: (c) => renderConfirmation(c),
    newToken: () => 'token',
    settings: { concurrency: 2, batchSize: 5 },
    mailer: {
      async send(mail) {
        if (mail.to === 'bad') throw new MailRefused('message', 'MessageRejected: Illegal address')
        sent.push(mail.to)
        return { messageId: `m-${mail.to}` }
      },
    },
  })
  t.match(report, { claimed: 5, sent: 4, dead: 1, retried: 0 })
  t.same(sent.sort(), [
    's1@example.ac.kr',
    's3@example.ac.kr',
    's4@example.ac.kr',
    's5@example.ac.kr',
  ])
  t.match(
    outcomes.find(([id]) => id === 2),
    [2, { kind: 'dead' }],
  )
})

t.test('an unexpected mailer error is a transient refusal, retried', async (t) => {
  const { outbox, outcomes } = memoryOutbox([confirmation({ attempts: 0 })])
  let calls = 0
  const report = await sendConfirmations({
    outbox,
    render: (c) => renderConfirmation(c),
    newToken: () => 'token',
    settings: { backoffBaseMs: 0, backoffMaxMs: 0 },
    mailer: {
      async send() {
        calls += 1
        if (calls === 1) throw new Error('socket hang up')
        return { messageId: 'm-1' }
      },
    },
  })
  t.match(report, { sent: 1, retried: 1 })
  t.same(
    outcomes.map(([, o]) => o.kind),
    ['retry', 'sent'],
  )
})

t.test('a run stops claiming when its time is up', async (t) => {
  const { outbox } = memoryOutbox([1, 2, 3, 4, 5, 6].map((id) => confirmation({ id, attempts: 0 })))
  let batches = 0
  const report = await sendConfirmations({
    outbox,
    render: (c) => renderConfirmation(c),
    newToken: () => `t${(batches += 1)}`,
    settings: { batchSize: 2 },
    stop: () => batches >= 2,
    mailer: { send: async () => ({ messageId: 'm' }) },
  })
  t.equal(report.claimed, 4, 'two batches of two, then no more')
})
