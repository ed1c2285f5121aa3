// The claims a run must not break, checked against the database after it. Every count here must
// be zero; a report lists a few examples of each break so that it can be chased.
import { execFile } from 'node:child_process'
import type { CourseAudit } from '@sugang/service/fairness'
import type { Tracked } from './driver.js'
import type { DbState } from './targets.js'
import { courseId, studentId } from './workload.js'

/** Reasons a request may lose to a later one (the contract's own-reason exceptions). */
const OWN_REASONS = new Set(['ALREADY_ENROLLED', 'CREDIT_LIMIT', 'TIME_CONFLICT'])

export interface InvariantReport {
  /** Courses with more enrollment rows than seats. */
  readonly oversold: number
  /** Courses whose `enrolled` column differs from their rows. */
  readonly enrolledColumnOff: number
  /** Students with two rows in one course. */
  readonly duplicates: number
  /** Requests a student was told "enrolled" (and kept) with no row in the database. */
  readonly lostEnrollments: number
  /** Rows whose student was last told something other than "enrolled". */
  readonly untoldEnrollments: number
  /** Requests the service forgot (404 on a request it had acknowledged). */
  readonly forgotten: number
  /** Contract fairness: B got a seat though A, acknowledged before B was sent, did not. */
  readonly unfair: number
  /** Waitlisted requests whose last told position differs from the database's. */
  readonly wrongPositions: number
  /** Courses with a free seat while their waitlist is not empty. */
  readonly idleSeats: number
  /** Requests not decided by the deadline, or answered with an error. */
  readonly stuck: number
  readonly errors: number
  /** sugang's fairness record as its own audit found it (absent: a baseline, or an older report). */
  readonly fairness?: FairnessAudit
  readonly examples: readonly string[]
}

/** What `sugang audit fairness` found in the database after a run. */
export interface FairnessAudit {
  readonly holds: boolean
  readonly courses: number
  readonly entries: number
  /** Courses whose record is broken. */
  readonly brokenCourses: number
  /** Breaks found in all, and the first MAX_BREAKS of them as `<course>: <break>`. */
  readonly breakCount: number
  readonly breaks: readonly string[]
  /** Why the audit could not be run or believed (it then does not hold). */
  readonly error?: string
}

const MAX_BREAKS = 50

/** The audit's answer for a report: counts, and the first breaks by course. */
export function summarizeAudit(audits: readonly CourseAudit[]): FairnessAudit {
  const broken = audits.filter((a) => a.breaks.length > 0)
  const breaks = broken.flatMap((a) => a.breaks.map((b) => `${a.courseId}: ${b}`))
  return {
    holds: broken.length === 0,
    courses: audits.length,
    entries: audits.reduce((n, a) => n + a.entries, 0),
    brokenCourses: broken.length,
    breakCount: breaks.length,
    breaks: breaks.slice(0, MAX_BREAKS),
  }
}

function failedAudit(error: string): FairnessAudit {
  return {
    holds: false,
    courses: 0,
    entries: 0,
    brokenCourses: 0,
    breakCount: 0,
    breaks: [],
    error,
  }
}

/**
 * Runs `sugang audit fairness --json` (the service's CLI `cli`, the build the run measured)
 * against sugang's database. Exit 0 holds, 1 broken; anything else, or an answer that is not the
 * audit's document, is an audit that failed, reported as not holding.
 */
export function auditFairness(
  cli: string,
  env: { readonly DATABASE_URL: string; readonly REDIS_URL: string },
): Promise<FairnessAudit> {
  const childEnv: Record<string, string | undefined> = {
    ...process.env,
    // Like the service processes of the run: no V8 coverage of the scripts' tests.
    NODE_V8_COVERAGE: undefined,
    // MySQL with Redis, as the run's service had (the audit reads MySQL alone): with neither,
    // the CLI would audit an embedded store of its own; with cluster nodes too, refuse.
    ...env,
    REDIS_CLUSTER_NODES: undefined,
  }
  for (const [k, v] of Object.entries(childEnv)) if (v === undefined) delete childEnv[k]
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, 'audit', 'fairness', '--json'],
      { env: childEnv, maxBuffer: 256 * 2 ** 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0
        let courses: unknown
        try {
          courses = (JSON.parse(stdout) as { courses?: unknown }).courses
        } catch {
          courses = undefined
        }
        if ((code === 0 || code === 1) && Array.isArray(courses)) {
          const audit = summarizeAudit(courses as CourseAudit[])
          if (audit.holds === (code === 0)) return resolve(audit)
        }
        resolve(failedAudit(`sugang audit fairness exited ${code ?? err?.signal}: ${why(stderr)}`))
      },
    )
  })
}

/** The error lines of a failed command's stderr (a thrown error's message and its cause). */
function why(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim())
  const errors = lines.filter((l) => /^(\[cause\]: )?\w*Error\b|^sugang: /.test(l))
  return (errors.length > 0 ? errors.slice(0, 2) : lines.filter(Boolean).slice(-1)).join('; ')
}

/** Violations the fairness audit counts: each broken course, or one for an audit that failed. */
function fairnessViolations(audit: FairnessAudit | undefined): number {
  if (!audit) return 0
  return audit.error === undefined ? audit.brokenCourses : 1
}

export interface CheckOptions {
  /** Whether requests must be decided by the deadline (not the 10-per-second design's case). */
  readonly mustDecide: boolean
  /** Whether the last told waitlist positions are to be compared with the database. */
  readonly checkPositions: boolean
  /** sugang's fairness record audit, checked with the rest (the baselines keep none). */
  readonly fairness?: FairnessAudit
}

export function violations(r: InvariantReport): number {
  return (
    r.oversold +
    r.enrolledColumnOff +
    r.duplicates +
    r.lostEnrollments +
    r.untoldEnrollments +
    r.forgotten +
    r.unfair +
    r.wrongPositions +
    r.idleSeats +
    r.stuck +
    r.errors +
    fairnessViolations(r.fairness)
  )
}

export function check(
  tracked: readonly Tracked[],
  state: DbState,
  options: CheckOptions,
): InvariantReport {
  const examples: string[] = []
  const note = (s: string): void => {
    if (examples.length < 20) examples.push(s)
  }
  let oversold = 0
  let enrolledColumnOff = 0
  for (const [id, c] of state.courses) {
    if (c.rows > c.capacity) {
      oversold += 1
      note(`${id}: ${c.rows} rows for ${c.capacity} seats`)
    }
    if (c.rows !== c.enrolled) {
      enrolledColumnOff += 1
      note(`${id}: enrolled column ${c.enrolled}, rows ${c.rows}`)
    }
  }

  const rows = new Set<string>()
  let duplicates = 0
  for (const e of state.enrollments) {
    const key = `${e.studentId}/${e.courseId}`
    if (rows.has(key)) {
      duplicates += 1
      note(`${key} enrolled twice`)
    }
    rows.add(key)
  }

  // The last word each student had about each course (a later request of theirs overrides).
  const told = new Map<string, Tracked>()
  for (const r of tracked) {
    const key = `${studentId(r.wish.student)}/${courseId(r.wish.course)}`
    const prev = told.get(key)
    if (!prev || r.sentAt >= prev.sentAt) told.set(key, r)
  }
  let lostEnrollments = 0
  let forgotten = 0
  let stuck = 0
  let errors = 0
  for (const r of tracked) {
    const key = `${studentId(r.wish.student)}/${courseId(r.wish.course)}`
    if (r.status === 'enrolled' && !r.cancelled && !rows.has(key)) {
      lostEnrollments += 1
      note(`${key}: told enrolled, no row`)
    }
    if (r.reason === 'REQUEST_NOT_FOUND') {
      forgotten += 1
      note(`${key}: request ${r.requestId} forgotten`)
    }
    if (r.errors > 0) {
      errors += 1
      if (errors <= 3) note(`${key}: ${r.errors} unusable answer(s)`)
    }
    if (options.mustDecide && (r.status === null || r.status === 'queued')) {
      stuck += 1
      if (stuck <= 3) note(`${key}: still ${r.status ?? 'unanswered'} at the deadline`)
    }
  }
  let untoldEnrollments = 0
  for (const e of state.enrollments) {
    const key = `${e.studentId}/${e.courseId}`
    const r = told.get(key)
    // Rows made before the run (the cancel storm's set-up) are told by their own requests.
    if (r && r.status !== 'enrolled' && !(r.status === 'queued' && !options.mustDecide)) {
      untoldEnrollments += 1
      note(`${key}: has a row but was told ${r.status}${r.reason ? ` ${r.reason}` : ''}`)
    }
  }

  // Fairness, per course: the earliest acknowledgement of a request that ended without a seat
  // (for a reason that is not its own); any request sent after it must not have a seat.
  const earliestLoser = new Map<number, number>()
  for (const r of tracked) {
    if (r.ackStatus !== 202 || r.cancelled) continue
    const lost =
      (r.status === 'rejected' && !OWN_REASONS.has(r.reason ?? '')) || r.status === 'waitlisted'
    if (!lost) continue
    const at = earliestLoser.get(r.wish.course)
    if (at === undefined || r.ackAt < at) earliestLoser.set(r.wish.course, r.ackAt)
  }
  let unfair = 0
  for (const r of tracked) {
    const at = earliestLoser.get(r.wish.course)
    if (at !== undefined && r.status === 'enrolled' && r.sentAt > at) {
      unfair += 1
      if (unfair <= 3) {
        note(
          `${courseId(r.wish.course)}: ${studentId(r.wish.student)} sent after an acknowledged loser, enrolled`,
        )
      }
    }
  }

  let wrongPositions = 0
  if (options.checkPositions) {
    const truth = new Map(state.waitlist.map((w) => [w.requestId, w.position]))
    for (const r of tracked) {
      if (r.status !== 'waitlisted' || r.cancelled || !r.requestId) continue
      const position = truth.get(r.requestId)
      if (position !== r.position) {
        wrongPositions += 1
        if (wrongPositions <= 3) {
          note(
            `${r.requestId}: told waitlisted at ${r.position}, database says ${position ?? 'not waitlisted'}`,
          )
        }
      }
    }
  }

  let idleSeats = 0
  const waiting = new Set(state.waitlist.map((w) => w.courseId))
  for (const [id, c] of state.courses) {
    if (c.rows < c.capacity && waiting.has(id)) {
      idleSeats += 1
      note(`${id}: ${c.capacity - c.rows} free seat(s) while its waitlist waits`)
    }
  }

  // The audit must have read the database the run wrote: as many courses as it holds.
  let fairness = options.fairness
  if (fairness && fairness.error === undefined && fairness.courses !== state.courses.size) {
    fairness = {
      ...fairness,
      holds: false,
      error: `audited ${fairness.courses} courses, the database holds ${state.courses.size}`,
    }
  }
  if (fairness?.error !== undefined) note(`fairness record not audited: ${fairness.error}`)
  for (const b of fairness?.breaks ?? []) note(`fairness record: ${b}`)

  return {
    oversold,
    enrolledColumnOff,
    duplicates,
    lostEnrollments,
    untoldEnrollments,
    forgotten,
    unfair,
    wrongPositions,
    idleSeats,
    stuck,
    errors,
    ...(fairness ? { fairness } : {}),
    examples,
  }
}
