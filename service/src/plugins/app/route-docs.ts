import type { RouteOptions } from 'fastify'
import { errorRef } from '../../schemas/common.js'

/**
 * Documents, on one route, an answer that a plugin gives on the route's behalf: the status in its
 * responses (the shared error body) and a sentence in its description, so that the contract
 * (docs/openapi.json) lists every answer where the route is described. Routes without a schema
 * (the page's files, the document's own viewer) are not in the contract and are left alone.
 */
export function documentAnswer(route: RouteOptions, status: number, sentence: string): void {
  const schema = route.schema
  if (!schema) return
  const response = (schema.response ?? {}) as Record<string, unknown>
  route.schema = {
    ...schema,
    response: { ...response, [status]: response[status] ?? errorRef },
    description: schema.description ? `${schema.description} ${sentence}` : sentence,
  }
}
