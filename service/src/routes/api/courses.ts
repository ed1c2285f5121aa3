import { createHash } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { Course } from '../../domain/model.js'
import { HttpError } from '../../errors.js'
import { errorRef } from '../../schemas/common.js'
import { CourseList, CourseParams, CourseView } from '../../schemas/course.js'

function view(course: Course) {
  return { ...course, seatsLeft: Math.max(0, course.capacity - course.enrolled) }
}

/** Whether an If-None-Match header names this entity tag (weak comparison, RFC 9110 13.1.2). */
export function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false
  const opaque = etag.replace(/^W\//, '')
  return header
    .split(',')
    .map((tag) => tag.trim())
    .some((tag) => tag === '*' || tag.replace(/^W\//, '') === opaque)
}

const courses: FastifyPluginAsyncTypebox = async (app) => {
  const { catalogue } = app.sugang
  /**
   * The list as last sent: the catalogue's array it was built from, its JSON and its tag. The
   * catalogue hands out the same array until it reloads (at most once a second), so the list is
   * serialized and hashed once per reload, not once per student.
   */
  let sent: { readonly from: readonly Course[]; readonly body: string; readonly etag: string } = {
    from: [],
    body: '',
    etag: '',
  }

  app.get(
    '/courses',
    {
      schema: {
        summary: 'List the courses',
        description:
          'Every course with its capacity, enrolled count and seats left. The answer carries an ETag: a page that sends it back in If-None-Match gets 304 with no body while nothing changed (the seats included), so waiting costs a few hundred bytes a look.',
        tags: ['courses'],
        response: {
          200: CourseList,
          304: Type.Null({ description: 'Not modified: the list is what the ETag named.' }),
          401: errorRef,
          429: errorRef,
          503: errorRef,
        },
      },
    },
    async (request, reply) => {
      const list = await catalogue.list()
      if (sent.from !== list) {
        const body = String(reply.serializeInput({ courses: list.map(view) }, '200'))
        const digest = createHash('sha256').update(body).digest('base64url').slice(0, 27)
        // Weak: the same list is sent as it is or compressed, and either is equally good.
        sent = { from: list, body, etag: `W/"${digest}"` }
      }
      reply.header('etag', sent.etag)
      if (matchesEtag(request.headers['if-none-match'], sent.etag)) {
        return reply.code(304).send(null)
      }
      return reply.type('application/json; charset=utf-8').send(sent.body)
    },
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
      const course = await catalogue.find(request.params.courseId)
      if (!course) throw new HttpError(404, 'COURSE_NOT_FOUND', 'There is no such course.')
      return view(course)
    },
  )
}

export default courses
