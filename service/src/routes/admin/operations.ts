import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type, type TSchema } from '@sinclair/typebox'
import {
  EVERY_COURSE,
  OperationRefused,
  type ControlState,
  type OperatorControls,
  type Operations,
} from '../../domain/operations.js'
import { HttpError } from '../../errors.js'
import { CourseId, RequestId, StudentId, errorRef } from '../../schemas/common.js'
import { CourseParams } from '../../schemas/course.js'

const Reason = Type.String({
  minLength: 3,
  maxLength: 500,
  description: 'Why: recorded with the action, and shown to students for a pause.',
})
const Target = Type.Optional(
  Type.Union([CourseId, Type.Literal(EVERY_COURSE)], {
    description: `A course id, or ${EVERY_COURSE} (the default) for every course.`,
  }),
)
const Since = { since: Type.String({ format: 'date-time' }), by: Type.String() }

const Controls = Type.Object({
  pauses: Type.Array(Type.Object({ course: Type.String(), reason: Type.String(), ...Since })),
  throttles: Type.Array(
    Type.Object({
      course: Type.String(),
      perSecond: Type.Integer(),
      reason: Type.String(),
      ...Since,
    }),
  ),
  window: Type.Object({
    opensAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    opensAtByYear: Type.Record(Type.String(), Type.String({ format: 'date-time' })),
    closesAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    moved: Type.Union([Type.Object({ reason: Type.String(), ...Since }), Type.Null()]),
  }),
  announcement: Type.Union([
    Type.Object({ id: Type.String(), ko: Type.String(), en: Type.String(), ...Since }),
    Type.Null(),
  ]),
})

const Action = Type.Object({
  id: Type.Integer(),
  at: Type.String({ format: 'date-time' }),
  operator: Type.String(),
  action: Type.String(),
  target: Type.String(),
  reason: Type.String(),
  details: Type.Unknown(),
})

const CapacityChanged = Type.Object(
  {
    courseId: Type.String(),
    capacity: Type.Integer({ description: 'The capacity now.' }),
    enrolled: Type.Integer({ description: 'Seats taken now, the promoted included.' }),
    promoted: Type.Array(Type.Object({ studentId: StudentId, requestId: RequestId }), {
      description:
        "The waitlisted students the new seats went to, in the waitlist's order (each is sent the usual promotion confirmation).",
    }),
  },
  { additionalProperties: false },
)

const errorsOf = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, errorRef]))

/**
 * The operators' API (the admin listener only: plugins/app/admin.ts). Every command answers the
 * controls in force after it, on this instance at once and on every other within a second.
 */
const operations: FastifyPluginAsyncTypebox<{
  readonly operations: Operations
  readonly controls: OperatorControls
}> = async (app, { operations: ops, controls }) => {
  const view = (state: ControlState) => {
    const window = controls.window()
    return {
      pauses: [...state.pauses].map(([course, p]) => ({ course, ...p })),
      throttles: [...state.throttles].map(([course, t]) => ({ course, ...t })),
      window: {
        opensAt: window.opensAt?.toISOString() ?? null,
        opensAtByYear: Object.fromEntries(
          [...(window.opensAtByYear ?? [])].map(([year, at]) => [String(year), at.toISOString()]),
        ),
        closesAt: window.closesAt?.toISOString() ?? null,
        moved: state.window
          ? { reason: state.window.reason, since: state.window.since, by: state.window.by }
          : null,
      },
      announcement: state.announcement,
    }
  }
  const run = async (command: () => Promise<ControlState>) => {
    try {
      return view(await command())
    } catch (err) {
      if (err instanceof OperationRefused) {
        throw new HttpError(err.code === 'COURSE_NOT_FOUND' ? 404 : 409, err.code, err.message)
      }
      throw err
    }
  }
  const commandSchema = <B extends TSchema>(summary: string, body: B) => ({
    schema: {
      summary,
      body,
      response: { 200: Controls, ...errorsOf(400, 401, 404, 409, 503) },
    },
  })

  app.get(
    '/controls',
    { schema: { summary: 'The controls in force', response: { 200: Controls, ...errorsOf(401) } } },
    async () => {
      await controls.refresh()
      return view(controls.state)
    },
  )

  const TargetAndReason = Type.Object(
    { course: Target, reason: Reason },
    { additionalProperties: false },
  )
  app.post('/pause', commandSchema('Pause admission', TargetAndReason), (request) =>
    run(() =>
      ops.pause(request.operator, request.body.course ?? EVERY_COURSE, request.body.reason),
    ),
  )
  app.post('/resume', commandSchema('Resume admission', TargetAndReason), (request) =>
    run(() =>
      ops.resume(request.operator, request.body.course ?? EVERY_COURSE, request.body.reason),
    ),
  )
  app.post(
    '/throttle',
    commandSchema(
      'Set a ceiling on decisions per second',
      Type.Object(
        {
          course: Target,
          perSecond: Type.Integer({ minimum: 1, maximum: 100_000 }),
          reason: Reason,
        },
        { additionalProperties: false },
      ),
    ),
    (request) =>
      run(() =>
        ops.throttle(
          request.operator,
          request.body.course ?? EVERY_COURSE,
          request.body.perSecond,
          request.body.reason,
        ),
      ),
  )
  app.post('/unthrottle', commandSchema('Lift a ceiling', TargetAndReason), (request) =>
    run(() =>
      ops.unthrottle(request.operator, request.body.course ?? EVERY_COURSE, request.body.reason),
    ),
  )
  app.post(
    '/window',
    commandSchema(
      'Move the registration opening, for everyone or one grade year',
      Type.Object(
        {
          opensAt: Type.String({ format: 'date-time' }),
          year: Type.Optional(Type.Integer({ minimum: 1, maximum: 6 })),
          reason: Reason,
        },
        { additionalProperties: false },
      ),
    ),
    (request) =>
      run(() =>
        ops.moveWindow(
          request.operator,
          {
            opensAt: new Date(request.body.opensAt),
            ...(request.body.year === undefined ? {} : { year: request.body.year }),
          },
          request.body.reason,
        ),
      ),
  )
  app.post(
    '/announcement',
    commandSchema(
      'Show a banner on every open page',
      Type.Object(
        {
          ko: Type.String({ minLength: 1, maxLength: 300 }),
          en: Type.String({ minLength: 1, maxLength: 300 }),
          reason: Reason,
        },
        { additionalProperties: false },
      ),
    ),
    (request) =>
      run(() =>
        ops.announce(
          request.operator,
          { ko: request.body.ko, en: request.body.en },
          request.body.reason,
        ),
      ),
  )
  app.post(
    '/announcement/clear',
    commandSchema(
      'Take the banner down',
      Type.Object({ reason: Reason }, { additionalProperties: false }),
    ),
    (request) => run(() => ops.unannounce(request.operator, request.body.reason)),
  )
  app.post(
    '/courses/:courseId/capacity',
    {
      schema: {
        summary: "Change a course's capacity during registration (증원/감원)",
        description: [
          'A raise gives the new seats to the head of the waitlist at once, in order, in the transaction that raises the capacity (as a cancellation gives its seat): a head the rules no longer allow (credit limit, time conflict, enrolled meanwhile) is passed over and the next one offered the seat, until the new seats are taken or the waitlist is empty. Seats left over go to the queue as usual.',
          'A lowering never removes an enrollment: a capacity below the seats taken is refused with 409 CAPACITY_BELOW_ENROLLED, whose message says how many students hold seats (the lowest capacity allowed now), and nothing changes. Lowering to exactly the seats taken closes the course to new seats; the waitlist keeps its places.',
          'The change, the promotions and the audit row (operator, reason, details {from, to, promoted}) commit in one transaction, and the fairness record gets a `capacity` entry followed by the promotions. Asking for the capacity the course has changes nothing but the audit row. The course list shows the new capacity within a second.',
        ].join('\n\n'),
        params: CourseParams,
        body: Type.Object(
          {
            capacity: Type.Integer({
              minimum: 1,
              maximum: 100_000,
              description: 'The new capacity.',
            }),
            reason: Reason,
          },
          { additionalProperties: false },
        ),
        response: { 200: CapacityChanged, ...errorsOf(400, 401, 404, 409, 503) },
      },
    },
    async (request) => {
      const { courseId } = request.params
      try {
        const changed = await ops.changeCapacity(
          request.operator,
          courseId,
          request.body.capacity,
          request.body.reason,
        )
        return { ...changed, promoted: [...changed.promoted] }
      } catch (err) {
        if (err instanceof OperationRefused) {
          throw new HttpError(err.code === 'COURSE_NOT_FOUND' ? 404 : 409, err.code, err.message)
        }
        throw err
      }
    },
  )
  app.get(
    '/actions',
    {
      schema: {
        summary: "The operators' latest actions, newest first",
        querystring: Type.Object(
          {
            // A query is text, and types are not coerced here: digits, 1 to 1000.
            limit: Type.Optional(
              Type.String({ pattern: '^(1000|[1-9][0-9]{0,2})$', description: '1 to 1000' }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ actions: Type.Array(Action) }), ...errorsOf(400, 401) },
      },
    },
    async (request) => {
      const actions = await ops.actions(Number(request.query.limit ?? 100))
      return {
        actions: actions.map((a) => ({
          ...a,
          at: a.at.toISOString(),
          details: safeJson(a.details),
        })),
      }
    },
  )
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

export default operations
