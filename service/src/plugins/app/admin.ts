import { createHash } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { AdminListener } from '../../config.js'
import { HttpError } from '../../errors.js'
import { ErrorResponse } from '../../schemas/common.js'
import operatorRoutes from '../../routes/admin/operations.js'
import errors from './errors.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The operator an admin request authenticated as (the admin listener only). */
    operator: string
  }
  interface FastifyInstance {
    /** The admin listener's address once listening, or null (no ADMIN_TOKENS, not ready). */
    adminAddress(): AddressInfo | null
  }
}

/** The operator a bearer token belongs to, or null. Only the tokens' hashes are configured. */
export function operatorOf(
  authorization: string | undefined,
  operators: ReadonlyMap<string, string>,
): string | null {
  const match = /^Bearer ([A-Za-z0-9._~+/=-]{16,200})$/.exec(authorization ?? '')
  if (!match) return null
  const hash = createHash('sha256')
    .update(match[1] as string)
    .digest('hex')
  return operators.get(hash) ?? null
}

/**
 * The operators' API on its own listener (ADMIN_HOST:ADMIN_PORT, loopback by default): never
 * routed through the public listener, so the load balancer cannot reach it. Every request needs
 * an operator's bearer token; each command is recorded with the operator's name.
 */
export default fp<{ readonly listener: AdminListener | null }>(
  async (app, { listener }) => {
    let admin: FastifyInstance | null = null
    app.decorate('adminAddress', () => {
      const address = admin?.server.address()
      return address && typeof address === 'object' ? address : null
    })
    if (!listener) return

    app.addHook('onReady', async () => {
      const server = Fastify({
        loggerInstance: app.log.child({ listener: 'admin' }),
        bodyLimit: 16 * 1024,
        // As on the public listener: unknown fields are refused, types never coerced in bodies.
        ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
      })
      server.addSchema(ErrorResponse)
      await server.register(errors)
      server.decorateRequest('operator', '')
      server.addHook('onRequest', async (request) => {
        const operator = operatorOf(request.headers.authorization, listener.operators)
        if (!operator) {
          throw new HttpError(401, 'UNAUTHENTICATED', 'An operator token is required.', {
            'www-authenticate': 'Bearer',
          })
        }
        request.operator = operator
      })
      await server.register(operatorRoutes, {
        prefix: '/admin/v1',
        operations: app.sugang.operations,
        controls: app.sugang.controls,
      })
      await server.listen({ host: listener.host, port: listener.port })
      admin = server
    })
    app.addHook('onClose', async () => {
      await admin?.close()
    })
  },
  { name: 'admin', dependencies: ['registration'] },
)
