import { Type } from '@sinclair/typebox'
import { DAYS } from '../domain/model.js'
import { PERIODS_PER_DAY } from '../domain/meetings.js'
import { CourseId } from './common.js'

export const CourseParams = Type.Object({ courseId: CourseId }, { additionalProperties: false })

export const MeetingView = Type.Object(
  {
    day: Type.Union(DAYS.map((d) => Type.Literal(d))),
    start: Type.Integer({ minimum: 1, maximum: PERIODS_PER_DAY, description: 'first period' }),
    end: Type.Integer({ minimum: 1, maximum: PERIODS_PER_DAY, description: 'last period' }),
    room: Type.String(),
  },
  { additionalProperties: false, $id: 'Meeting' },
)

export const meetingRef = Type.Ref('Meeting')

/** What a student's own lists (enrollments, the timetable) tell of each course they hold. */
export function heldCourseFields() {
  return {
    courseId: Type.String(),
    title: Type.String(),
    professor: Type.String(),
    credits: Type.Integer(),
    meetings: Type.Array(meetingRef),
  }
}

export const CourseView = Type.Object(
  {
    id: Type.String(),
    title: Type.String(),
    professor: Type.String(),
    credits: Type.Integer(),
    capacity: Type.Integer(),
    enrolled: Type.Integer(),
    seatsLeft: Type.Integer(),
    meetings: Type.Array(meetingRef),
  },
  { additionalProperties: false },
)

export const CourseList = Type.Object(
  { courses: Type.Array(CourseView) },
  { additionalProperties: false },
)
