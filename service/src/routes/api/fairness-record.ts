import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { RecordHead } from '../../domain/fairness.js'
import { HttpError } from '../../errors.js'
import { sessionOf } from '../../plugins/app/sessions.js'
import { errorRef } from '../../schemas/common.js'
import { CourseParams } from '../../schemas/course.js'
import { RequestParams } from '../../schemas/enrollment.js'
import { RecordDigest, RequestRecordView } from '../../schemas/fairness.js'

const digestOf = (courseId: string, head: RecordHead) => ({
  courseId,
  entries: head.seq,
  head: head.hash,
})

/**
 * The fairness record (docs/fairness.md) over HTTP: a student's own request with its entries, and
 * any course's digest, which anyone may save and compare later. Reads of the primary, off the
 * rush path.
 */
const fairnessRecord: FastifyPluginAsyncTypebox = async (app) => {
  const { fairness } = app.sugang

  app.get(
    '/enrollment-requests/:requestId/record',
    {
      schema: {
        summary: "Get my request's entries in the fairness record",
        description:
          "The request's arrival number in its course's queue, how many requests of the course are recorded with an earlier one, every decision about it (seat, waitlist place, refusal, cancellation, promotion) with its hash, and the course's digest: the last entry's number and hash. A request refused more than once has an entry each time; its last entry is its decision. 404 REQUEST_NOT_FOUND, also for another student's request; 404 NOT_DECIDED_YET while the request is still queued (it has no entry until it is decided; ask again once GET /api/v1/enrollment-requests/{requestId} answers anything but queued); 404 NOT_RECORDED for a request decided without an entry (before the record was kept, or refused because its course was removed), which never will have one.",
        tags: ['enrollments'],
        params: RequestParams,
        response: {
          200: RequestRecordView,
          401: errorRef,
          404: errorRef,
          429: errorRef,
          503: errorRef,
        },
      },
    },
    async (request) => {
      const { requestId } = request.params
      const look = await fairness.ofRequest(sessionOf(request).studentId, requestId)
      switch (look.kind) {
        case 'not-found':
          throw new HttpError(404, 'REQUEST_NOT_FOUND', 'There is no such enrollment request.')
        case 'not-decided':
          throw new HttpError(
            404,
            'NOT_DECIDED_YET',
            'This request has not been decided yet: it is recorded once it is.',
          )
        case 'not-recorded':
          throw new HttpError(
            404,
            'NOT_RECORDED',
            'This request was decided without an entry in the fairness record.',
          )
        case 'record': {
          const { record } = look
          return {
            requestId,
            courseId: record.courseId,
            arrival: record.arrival,
            arrivedBefore: record.arrivedBefore,
            entries: record.entries.map((e) => ({
              seq: e.seq,
              batch: e.batch,
              kind: e.kind,
              reason: e.reason,
              enrolled: e.enrolled,
              capacity: e.capacity,
              decidedAt: new Date(e.decidedAt).toISOString(),
              queuedAt: e.queuedAt == null ? null : new Date(e.queuedAt).toISOString(),
              hash: e.hash,
              prevHash: e.prevHash,
            })),
            digest: digestOf(record.courseId, record.head),
          }
        }
      }
    },
  )

  app.get(
    '/courses/:courseId/record',
    {
      config: { public: true },
      schema: {
        summary: "Get a course's fairness record digest",
        description:
          "Where the course's fairness record ends now: its number of entries and the hash of the last one (64 zeros while it has none). No session. Save it: as long as entry number `entries` still has this hash, every entry up to it is as it was when the digest was taken. 404 COURSE_NOT_FOUND when there is no such course.",
        tags: ['courses'],
        params: CourseParams,
        response: { 200: RecordDigest, 404: errorRef, 503: errorRef },
      },
    },
    async (request) => {
      const { courseId } = request.params
      const head = await fairness.digest(courseId)
      if (!head) throw new HttpError(404, 'COURSE_NOT_FOUND', 'There is no such course.')
      return digestOf(courseId, head)
    },
  )
}

export default fairnessRecord
