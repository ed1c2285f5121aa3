import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { errorBody } from '../../errors.js'
import { errorRef } from '../../schemas/common.js'

/**
 * Health for a load balancer. Neither route does I/O or depends on how busy the instance is (load
 * shedding covers the API only): a busy instance in the rush must not be taken out of service.
 * - live: the process runs and its event loop turns.
 * - ready: the dependencies answered the latest background checks, and it is not shutting down.
 */
const health: FastifyPluginAsyncTypebox = async (app) => {
  const Ok = Type.Object({ status: Type.String() }, { additionalProperties: false })

  app.get(
    '/live',
    {
      schema: {
        summary: 'Liveness',
        description: '200 while the process runs. No I/O.',
        tags: ['health'],
        response: { 200: Ok },
      },
    },
    async () => ({ status: 'ok' }),
  )

  app.get(
    '/ready',
    {
      schema: {
        summary: 'Readiness',
        description:
          '200 when MySQL and Redis answered the background checks; 503 NOT_READY, with Retry-After, while starting, when a dependency is down, or while shutting down. Never because the instance is busy.',
        tags: ['health'],
        response: { 200: Ok, 503: errorRef },
      },
    },
    async (_request, reply) => {
      const { started, closing, dependencies } = app.sugang
      const down = dependencies.down()
      let message: string | null = null
      if (closing) message = 'Not ready: shutting down.'
      else if (down.length > 0) message = `Not ready: ${down.join(' and ')} not answering.`
      else if (!started) message = 'Not ready: starting.'
      if (message === null) return { status: 'ready' }
      return reply.code(503).header('retry-after', '5').send(errorBody('NOT_READY', message))
    },
  )
}

export default health
