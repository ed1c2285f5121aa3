import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { HttpError } from '../../errors.js'
import { sessionOf } from '../../plugins/app/sessions.js'
import { errorRef } from '../../schemas/common.js'
import { MeView, Timetable } from '../../schemas/me.js'

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null)

/** The student's own page data: who they are, their registration window, their timetable. */
const me: FastifyPluginAsyncTypebox = async (app) => {
  const { students, requests } = app.sugang

  const profileOf = async (studentId: string) => {
    const profile = await students.profile(studentId)
    // A session that outlived its account.
    if (!profile) throw new HttpError(401, 'UNAUTHENTICATED', 'Log in first: the account is gone.')
    return profile
  }

  app.get(
    '/me',
    {
      schema: {
        summary: 'Who I am, and when registration opens for me',
        description:
          "The registration window is this student's own: the opening may depend on the grade year. serverTime lets a page correct its clock for the countdown.",
        tags: ['me'],
        response: { 200: MeView, 401: errorRef, 429: errorRef, 503: errorRef },
      },
    },
    async (request) => {
      const { studentId } = sessionOf(request)
      const profile = await profileOf(studentId)
      const now = Date.now()
      const window = await requests.window(studentId, now)
      return {
        studentId,
        name: profile.name,
        year: profile.year,
        maxCredits: profile.maxCredits,
        registration: {
          opensAt: iso(window.opensAt),
          closesAt: iso(window.closesAt),
          open: window.open,
          serverTime: new Date(now).toISOString(),
        },
      }
    },
  )

  app.get(
    '/me/timetable',
    {
      schema: {
        summary: 'My timetable',
        description: 'The courses I am enrolled in with their meeting times, and my credits.',
        tags: ['me'],
        response: { 200: Timetable, 401: errorRef, 429: errorRef, 503: errorRef },
      },
    },
    async (request) => {
      const { studentId } = sessionOf(request)
      const [profile, enrollments] = await Promise.all([
        profileOf(studentId),
        requests.enrollments(studentId),
      ])
      return {
        totalCredits: enrollments.reduce((sum, e) => sum + e.credits, 0),
        maxCredits: profile.maxCredits,
        courses: enrollments.map(({ courseId, title, professor, credits, meetings }) => ({
          courseId,
          title,
          professor,
          credits,
          meetings: [...meetings],
        })),
      }
    },
  )
}

export default me
