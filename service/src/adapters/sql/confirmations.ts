/**
 * The confirmation outbox as both SQL stores read it: the same statements (they are plain SQL in
 * either dialect) and one translation of their rows into the domain's shapes.
 */
import type { ClaimedConfirmation, ConfirmationBacklog } from '../../domain/confirmations.js'
import { parseMeetings } from '../../domain/meetings.js'
import { asDate, type Row } from './rows.js'

/** Rows still owed an e-mail, or dead, by state: `state, n, oldest`. */
export const BACKLOG_SQL = `SELECT state, COUNT(*) AS n, MIN(created_at) AS oldest
  FROM confirmation_outbox WHERE state IN ('pending', 'sending', 'dead') GROUP BY state`

/**
 * What a claimed row's message says, for the rows whose ids the caller binds as `(?)`. Left
 * joins: a row whose student or course is gone has no enrollment either, and is voided.
 */
export const CLAIMED_SQL = (ids: string) => `SELECT o.id, o.kind, o.attempts, o.request_id,
       o.student_id, s.name, s.email, o.course_id, c.title, c.professor, c.credits, c.meetings,
       CASE WHEN e.student_id = o.student_id THEN 1 ELSE 0 END AS still_enrolled
  FROM confirmation_outbox o
  LEFT JOIN students s ON s.id = o.student_id
  LEFT JOIN courses c ON c.id = o.course_id
  LEFT JOIN enrollments e ON e.request_id = o.request_id
 WHERE o.id IN (${ids})
 ORDER BY o.id`

function toDate(value: unknown): Date | null {
  return value === null || value === undefined ? null : asDate(value)
}

export function toBacklog(rows: readonly Row[]): ConfirmationBacklog {
  const count = (state: string) => Number(rows.find((r) => r.state === state)?.n ?? 0)
  const waiting = rows
    .filter((r) => r.state === 'pending' || r.state === 'sending')
    .map((r) => toDate(r.oldest))
    .filter((d): d is Date => d !== null)
  const oldestWaiting =
    waiting.length === 0 ? null : new Date(Math.min(...waiting.map((d) => d.getTime())))
  return {
    pending: count('pending'),
    sending: count('sending'),
    dead: count('dead'),
    oldestWaiting,
  }
}

export function toClaimed(row: Row): ClaimedConfirmation {
  const stillEnrolled = Number(row.still_enrolled) === 1
  return {
    id: Number(row.id),
    kind: row.kind === 'promoted' ? 'promoted' : 'enrolled',
    attempts: Number(row.attempts),
    requestId: String(row.request_id),
    student: {
      id: String(row.student_id),
      name: String(row.name ?? ''),
      email: String(row.email ?? ''),
    },
    course: {
      id: String(row.course_id),
      title: String(row.title ?? ''),
      professor: String(row.professor ?? ''),
      credits: Number(row.credits ?? 0),
      // A course that is gone leaves nothing to render; its row is voided, never sent.
      meetings: stillEnrolled ? parseMeetings(row.meetings) : [],
    },
    stillEnrolled,
  }
}
