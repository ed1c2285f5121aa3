import { Type } from '@sinclair/typebox'
import { CourseId } from './common.js'

export const CourseParams = Type.Object({ courseId: CourseId }, { additionalProperties: false })

export const CourseView = Type.Object(
  {
    id: Type.String(),
    title: Type.String(),
    professor: Type.String(),
    credits: Type.Integer(),
    capacity: Type.Integer(),
    enrolled: Type.Integer(),
    seatsLeft: Type.Integer(),
  },
  { additionalProperties: false },
)

export const CourseList = Type.Object(
  { courses: Type.Array(CourseView) },
  { additionalProperties: false },
)
