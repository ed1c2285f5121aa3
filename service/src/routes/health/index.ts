import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { answers } from '../../domain/answers.js'
import { errorRef } from '../../schemas/common.js'

const health: FastifyPluginAsyncTypebox = async (app) => {
  const { store, queue } = app.sugang
  const Ok = Type.Object({ status: Type.String() }, { additionalProperties: false })

  app.get('/live', { schema: { response: { 200: Ok } } }, async () => ({ status: 'ok' }))

  app.get(
    '/ready',
    { schema: { response: { 200: Ok, 503: errorRef } } },
    async (_request, reply) => {
      const [mysql, redis] = await Promise.all([
        answers(() => store.ping()),
        answers(() => queue.ping()),
      ])
      const down = [mysql ? null : 'mysql', redis ? null : 'redis'].filter((d) => d !== null)
      if (down.length === 0 && app.sugang.started) return { status: 'ready' }
      const message =
        down.length > 0 ? `Not ready: ${down.join(' and ')} not answering.` : 'Not ready: starting.'
      return reply
        .code(503)
        .header('retry-after', '5')
        .send({ error: { code: 'NOT_READY', message } })
    },
  )
}

export default health
