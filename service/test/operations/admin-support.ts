// What the operator-control tests share: operators with tokens, calls of the admin API over its
// own listener, and a student's requests through the public API.
import { createHash } from 'node:crypto'
import type { FastifyInstance } from 'fastify'

/** Two operators, each with a token; ADMIN_TOKENS holds only the hashes. */
export const OPERATORS = {
  registrar: 'registrar-token-of-the-operator-tests',
  'on-call': 'on-call-token-of-the-operator-tests',
} as const
export type Operator = keyof typeof OPERATORS

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')

/** The settings of an instance with the admin listener on a port of its own choosing. */
export const ADMIN_SETTINGS: Readonly<Record<string, string>> = {
  ADMIN_TOKENS: Object.entries(OPERATORS)
    .map(([name, token]) => `${name}:${sha256(token)}`)
    .join(','),
  ADMIN_PORT: '0',
}

export interface ControlsBody {
  pauses: Array<{ course: string; reason: string; since: string; by: string }>
  throttles: Array<{ course: string; perSecond: number; reason: string; by: string }>
  window: {
    opensAt: string | null
    opensAtByYear: Record<string, string>
    closesAt: string | null
    moved: { reason: string; by: string } | null
  }
  announcement: { id: string; ko: string; en: string; since: string; by: string } | null
}

export interface ErrorBody {
  error: { code: string; message: string; opensAt?: string }
}

/** Calls the admin API as an operator: its status and body, whatever they are. */
export async function adminCall<T = ControlsBody>(
  app: FastifyInstance,
  path: string,
  body?: object,
  operator: Operator = 'registrar',
): Promise<{ status: number; body: T }> {
  const address = app.adminAddress()
  if (!address) throw new Error('the admin listener is not listening')
  const res = await fetch(`http://127.0.0.1:${address.port}/admin/v1${path}`, {
    method: body ? 'POST' : 'GET',
    headers: {
      authorization: `Bearer ${OPERATORS[operator]}`,
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    ...(body ? { body: JSON.stringify(body) } : {}),
  })
  return { status: res.status, body: (await res.json()) as T }
}

/** An operator's command that must succeed: the controls in force after it. */
export async function command(
  app: FastifyInstance,
  path: string,
  body: object,
  operator: Operator = 'registrar',
): Promise<ControlsBody> {
  const res = await adminCall(app, path, body, operator)
  if (res.status !== 200)
    throw new Error(`${path} answered ${res.status}: ${JSON.stringify(res.body)}`)
  return res.body
}

export interface Enqueued {
  requestId: string
  status: string
  position: number
  queueLength: number
}

/** A student asks for a seat: the status and the answer. */
export async function ask(
  app: FastifyInstance,
  cookie: string,
  courseId: string,
  waitlist = false,
): Promise<{ status: number; body: Enqueued & ErrorBody }> {
  const res = await app.inject({
    method: 'POST',
    url: `/api/v1/courses/${courseId}/enrollment-requests`,
    headers: { cookie },
    payload: waitlist ? { waitlist: true } : {},
  })
  return { status: res.statusCode, body: res.json() }
}

export interface RequestState {
  status: 'queued' | 'waitlisted' | 'enrolled' | 'rejected'
  position?: number
  reason?: string
}

/** A student's request as the status route tells it. */
export async function requestState(
  app: FastifyInstance,
  cookie: string,
  requestId: string,
): Promise<RequestState> {
  const res = await app.inject({
    method: 'GET',
    url: `/api/v1/enrollment-requests/${requestId}`,
    headers: { cookie },
  })
  if (res.statusCode !== 200) throw new Error(`status answered ${res.statusCode}: ${res.body}`)
  return res.json()
}
