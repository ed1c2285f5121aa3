import { Type } from '@sinclair/typebox'
import { StudentId } from './common.js'

export const LoginBody = Type.Object(
  {
    studentId: StudentId,
    password: Type.String({ minLength: 1, maxLength: 200 }),
  },
  { additionalProperties: false },
)

export const LoginResponse = Type.Object(
  { studentId: Type.String(), name: Type.String() },
  { additionalProperties: false },
)
