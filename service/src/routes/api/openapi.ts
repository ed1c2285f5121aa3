import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { openapiDocument } from '../../plugins/app/openapi.js'
import { errorRef } from '../../schemas/common.js'

/** The OpenAPI document of this API, the same one committed as docs/openapi.json. Public. */
const openapi: FastifyPluginAsyncTypebox = async (app) => {
  let body: string | null = null

  // GET /api/v1/openapi.json: versioned with the API it describes.
  app.get(
    '/openapi.json',
    {
      config: { public: true },
      schema: {
        summary: 'The OpenAPI document',
        description: 'This API described as OpenAPI 3 (the document you are reading). No session.',
        tags: ['meta'],
        response: {
          200: Type.Object({}, { additionalProperties: true, description: 'OpenAPI 3 document' }),
          503: errorRef,
        },
      },
    },
    async (_request, reply) => {
      // Serialized once: the document cannot change while the app runs.
      body ??= JSON.stringify(openapiDocument(app))
      return reply.type('application/json; charset=utf-8').send(body)
    },
  )
}

export default openapi
