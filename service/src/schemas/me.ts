import { Type } from '@sinclair/typebox'
import { MAX_CART_ITEMS } from '../domain/cart.js'
import { CourseId } from './common.js'
import { heldCourseFields } from './course.js'

const DateTime = Type.String({ format: 'date-time' })

export const MeView = Type.Object(
  {
    studentId: Type.String(),
    name: Type.String(),
    year: Type.Integer({ minimum: 1 }),
    maxCredits: Type.Integer(),
    registration: Type.Object(
      {
        opensAt: Type.Union([DateTime, Type.Null()], {
          description: "this student's own opening (by grade year); null: open from the start",
        }),
        closesAt: Type.Union([DateTime, Type.Null()]),
        open: Type.Boolean(),
        serverTime: DateTime,
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
)

export const Timetable = Type.Object(
  {
    totalCredits: Type.Integer(),
    maxCredits: Type.Integer(),
    courses: Type.Array(Type.Object(heldCourseFields(), { additionalProperties: false })),
  },
  { additionalProperties: false },
)

export const CartView = Type.Object(
  {
    items: Type.Array(
      Type.Object({ courseId: Type.String(), addedAt: DateTime }, { additionalProperties: false }),
    ),
  },
  { additionalProperties: false },
)

export const CartParams = Type.Object({ courseId: CourseId }, { additionalProperties: false })

export const CartOrder = Type.Object(
  {
    courseIds: Type.Array(CourseId, {
      maxItems: MAX_CART_ITEMS,
      uniqueItems: true,
      description: 'Every course in the cart, once, in the order they are to be asked for.',
    }),
  },
  { additionalProperties: false },
)

export const EmptyRequestBody = Type.Object({}, { additionalProperties: false })

export const CartRequestResults = Type.Object(
  {
    results: Type.Array(
      Type.Union([
        Type.Object(
          {
            courseId: Type.String(),
            requestId: Type.String(),
            status: Type.Union([Type.Literal('queued'), Type.Literal('waitlisted')]),
            position: Type.Integer({ minimum: 1 }),
          },
          { additionalProperties: false },
        ),
        Type.Object(
          {
            courseId: Type.String(),
            error: Type.Object(
              { code: Type.String(), message: Type.String() },
              { additionalProperties: false },
            ),
          },
          { additionalProperties: false },
        ),
      ]),
    ),
  },
  { additionalProperties: false },
)
