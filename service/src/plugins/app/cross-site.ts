import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { errorBody } from '../../errors.js'
import { documentAnswer } from './route-docs.js'

export const CROSS_SITE_REQUEST = 'CROSS_SITE_REQUEST'

/** Methods that change state. A link, an image or a typed address never sends them. */
const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

export interface CrossSiteOptions {
  /** Other origins whose pages may call the API (ALLOWED_ORIGINS), as URL.origin spells them. */
  readonly allowedOrigins: ReadonlySet<string>
}

/**
 * The origin the browser is talking to: the Host it sent (the ALB passes it on unchanged) over
 * the scheme it used (behind the ALB: X-Forwarded-Proto, trusted from the one proxy hop only).
 * X-Forwarded-Host is not read: the ALB does not set it, so any value came from the client.
 */
function ownOrigin(request: FastifyRequest): string {
  return `${request.protocol}://${request.headers.host ?? ''}`
}

/** `https://Host:443` and `https://host` are one origin; a value that is no URL is none. */
function sameOrigin(a: string, b: string): boolean {
  if (a === b) return true
  try {
    const origin = new URL(a).origin
    return origin !== 'null' && origin === new URL(b).origin
  } catch {
    return false
  }
}

/**
 * Whether a browser sent this request from another site's page. Browsers send Origin with every
 * POST, PUT, PATCH and DELETE (`null` from a sandbox or after a cross-site redirect), and
 * Sec-Fetch-Site on every request; scripts and curl send neither, and are no cross-site threat
 * (a page cannot make a browser leave them out).
 */
export function fromAnotherSite(request: FastifyRequest, allowed: ReadonlySet<string>): boolean {
  const origin = request.headers.origin
  if (origin !== undefined) {
    if (allowed.has(origin)) return false
    if (!sameOrigin(origin, ownOrigin(request))) return true
  }
  return request.headers['sec-fetch-site'] === 'cross-site'
}

/**
 * Cross-site request forgery: SameSite=Lax keeps the session cookie off most cross-site
 * requests, but not all (a top-level POST within two minutes of the cookie in some browsers, a
 * sibling subdomain, which is same-site). A request that changes state is refused with 403
 * CROSS_SITE_REQUEST when its Origin is neither the service's own nor allowed, or when its
 * Sec-Fetch-Site says cross-site, before its session or body is looked at.
 */
export default fp<CrossSiteOptions>(
  async (app, { allowedOrigins }) => {
    app.addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method]
      if (methods.some((m) => STATE_CHANGING.has(m))) {
        documentAnswer(route, 403, '403 CROSS_SITE_REQUEST when sent from another site.')
      }
    })

    // A callback hook: it runs on every request (see bodies.ts).
    app.addHook('onRequest', (request, reply, done) => {
      if (!STATE_CHANGING.has(request.method) || !fromAnotherSite(request, allowedOrigins)) {
        done()
        return
      }
      reply
        .code(403)
        .send(errorBody(CROSS_SITE_REQUEST, 'Requests from pages of other sites are refused.'))
    })
  },
  { name: 'cross-site' },
)
