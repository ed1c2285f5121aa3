import { Type } from '@sinclair/typebox'
import { CourseId, RequestId } from './common.js'
import { heldCourseFields } from './course.js'

export const EnrollmentRequestBody = Type.Object(
  { waitlist: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
)

export const EnqueueResponse = Type.Object(
  {
    requestId: Type.String(),
    courseId: Type.String(),
    status: Type.Union([Type.Literal('queued'), Type.Literal('waitlisted')]),
    position: Type.Integer({ minimum: 1 }),
    queueLength: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
)

export const RequestParams = Type.Object({ requestId: RequestId }, { additionalProperties: false })

export const RequestView = Type.Object(
  {
    requestId: Type.String(),
    courseId: Type.String(),
    status: Type.Union([
      Type.Literal('queued'),
      Type.Literal('waitlisted'),
      Type.Literal('enrolled'),
      Type.Literal('rejected'),
    ]),
    position: Type.Optional(Type.Integer({ minimum: 1 })),
    reason: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
)

export const EnrollmentList = Type.Object(
  {
    enrollments: Type.Array(
      Type.Object(
        {
          ...heldCourseFields(),
          enrolledAt: Type.String({ format: 'date-time' }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
)

export const EnrollmentParams = Type.Object({ courseId: CourseId }, { additionalProperties: false })
