import { Type } from '@sinclair/typebox'

export const ErrorResponse = Type.Object(
  {
    error: Type.Object({
      code: Type.String(),
      message: Type.String(),
      /** REGISTRATION_CLOSED only: when registration opens for this student. */
      opensAt: Type.Optional(Type.String({ format: 'date-time' })),
    }),
  },
  { $id: 'ErrorResponse' },
)

export const errorRef = Type.Ref('ErrorResponse')

export const StudentId = Type.String({ pattern: '^[A-Za-z0-9_-]{1,16}$' })
export const CourseId = Type.String({ pattern: '^[A-Za-z0-9_-]{1,16}$' })
export const RequestId = Type.String({
  pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
})
