import { STATUS_CODES } from 'node:http'
import swaggerUi from '@fastify/swagger-ui'
import swagger, { type FastifyDynamicSwaggerOptions } from '@fastify/swagger'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { SESSION_COOKIE } from './sessions.js'

/** The parts of an OpenAPI 3 document this service reads (the document has more). */
interface OpenApiOperation {
  summary?: string
  tags?: string[]
  security?: Record<string, string[]>[]
  responses: Record<string, OpenApiResponse>
}

interface OpenApiResponse {
  description: string
  content?: Record<string, { schema?: { $ref?: string } }>
}

export interface OpenApiDocument {
  openapi: string
  info: { title: string; version: string; description?: string }
  tags?: { name: string; description?: string }[]
  paths: Record<string, Record<string, OpenApiOperation>>
  components: { schemas?: Record<string, unknown>; securitySchemes?: Record<string, unknown> }
}

/** The version of the HTTP contract (the /api/v1 in every path), not of the package. */
const API_VERSION = '1.0.0'

const SESSION_SCHEME = 'session'

const METHOD_ORDER = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']

/**
 * The document in a stable order, whatever order the routes were registered in: paths and
 * shared schemas sorted by name, a path's methods in the order OpenAPI lists them. A response
 * without a description of its own is described by its status code's name.
 */
function canonical(document: OpenApiDocument): OpenApiDocument {
  const paths: OpenApiDocument['paths'] = {}
  for (const url of Object.keys(document.paths).sort()) {
    const item = document.paths[url] ?? {}
    const sorted: Record<string, OpenApiOperation> = {}
    const methods = Object.keys(item).sort(
      (a, b) => METHOD_ORDER.indexOf(a) - METHOD_ORDER.indexOf(b),
    )
    for (const method of methods) {
      const operation = item[method] as OpenApiOperation
      for (const [status, response] of Object.entries(operation.responses)) {
        if (response.description === 'Default Response') {
          response.description = STATUS_CODES[status] ?? response.description
        }
      }
      sorted[method] = operation
    }
    paths[url] = sorted
  }
  const schemas = document.components?.schemas ?? {}
  const sortedSchemas = Object.fromEntries(
    Object.keys(schemas)
      .sort()
      .map((name) => [name, schemas[name]]),
  )
  // The usual order of a document's sections: what it is, then the operations, then the parts.
  const { openapi, info, tags, paths: _unsorted, components, ...rest } = document
  return {
    openapi,
    info,
    ...(tags ? { tags } : {}),
    ...rest,
    paths,
    components: { ...components, schemas: sortedSchemas },
  }
}

const swaggerOptions: FastifyDynamicSwaggerOptions = {
  openapi: {
    openapi: '3.0.3',
    info: {
      title: 'sugang',
      version: API_VERSION,
      description:
        'Course registration for the rush minute. Enrollment requests join a fair per-course ' +
        'queue and are decided by the admission worker; poll a request for its outcome. Every ' +
        'error is {"error":{"code","message"}} with a fixed message. 503 answers carry ' +
        'Retry-After. Generated from the route schemas: run `npm run openapi -w service`.',
    },
    tags: [
      { name: 'auth', description: 'Log in and out; the session is a cookie.' },
      { name: 'courses', description: 'The course catalogue.' },
      { name: 'enrollments', description: 'Enrollment requests, enrollments and cancellations.' },
      { name: 'me', description: 'The student: registration window, timetable.' },
      { name: 'cart', description: 'The pre-registration cart (장바구니).' },
      { name: 'health', description: 'Liveness and readiness for the load balancer.' },
      { name: 'meta', description: 'This document.' },
    ],
    components: {
      securitySchemes: {
        [SESSION_SCHEME]: {
          type: 'apiKey',
          in: 'cookie',
          name: SESSION_COOKIE,
          description: 'Signed, HttpOnly session cookie set by POST /api/v1/auth/login.',
        },
      },
    },
  },
  // Shared schemas (app.addSchema) keep their $id as their name under components/schemas.
  refResolver: {
    buildLocalReference: (json, _baseUri, _fragment, i) =>
      typeof json.$id === 'string' ? json.$id : `def-${i}`,
  },
  // Which routes need the session is read from the route's own config, as the sessions hook does.
  transform: ({ schema, url, route }) => {
    const needsSession = url.startsWith('/api/v1/') && !route.config?.public
    return {
      schema: needsSession ? { ...schema, security: [{ [SESSION_SCHEME]: [] }] } : schema,
      url,
    }
  },
  transformObject: (document) =>
    'openapiObject' in document
      ? (canonical(document.openapiObject as unknown as OpenApiDocument) as object)
      : document.swaggerObject,
}

/** The OpenAPI document of every route registered after this plugin. */
export default fp(
  async (app: FastifyInstance) => {
    await app.register(swagger, swaggerOptions)
    // The document, readable: /docs (its routes are hidden from the document itself).
    await app.register(swaggerUi, {
      routePrefix: '/docs',
      staticCSP: true,
      uiConfig: { docExpansion: 'list', deepLinking: true, tryItOutEnabled: false },
    })
  },
  { name: 'openapi' },
)

/** The app's OpenAPI document (after `ready`). */
export function openapiDocument(app: FastifyInstance): OpenApiDocument {
  return app.swagger() as unknown as OpenApiDocument
}

/** The document as it is committed: two-space indents, one trailing newline. */
export function renderOpenapi(document: OpenApiDocument): string {
  return `${JSON.stringify(document, null, 2)}\n`
}
