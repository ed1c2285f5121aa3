import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Course } from '../../domain/model.js'
import { HttpError } from '../../errors.js'
import { errorRef } from '../../schemas/common.js'
import { CourseList, CourseParams, CourseView } from '../../schemas/course.js'

function view(course: Course) {
  return { ...course, seatsLeft: Math.max(0, course.capacity - course.enrolled) }
}

const courses: FastifyPluginAsyncTypebox = async (app) => {
  const { catalogue, store } = app.sugang

  app.get(
    '/courses',
    {
      schema: {
        summary: 'List the courses',
        description: 'Every course with its capacity, enrolled count and seats left.',
        tags: ['courses'],
        response: { 200: CourseList, 401: errorRef, 429: errorRef, 503: errorRef },
      },
    },
    async () => ({ courses: (await catalogue.list()).map(view) }),
  )

  app.get(
    '/courses/:courseId',
    {
      schema: {
        summary: 'Get one course',
        description: '404 COURSE_NOT_FOUND when there is no such course.',
        tags: ['courses'],
        params: CourseParams,
        response: { 200: CourseView, 401: errorRef, 404: errorRef, 429: errorRef, 503: errorRef },
      },
    },
    async (request) => {
      const course = await store.findCourse(request.params.courseId)
      if (!course) throw new HttpError(404, 'COURSE_NOT_FOUND', 'There is no such course.')
      return view(course)
    },
  )
}

export default courses
