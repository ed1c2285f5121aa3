import { request as httpRequest } from 'node:http'
import type { FastifyInstance } from 'fastify'
import { openapiDocument } from '../../src/plugins/app/openapi.js'

export interface DocumentedRoute {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  /** The path as documented, e.g. /api/v1/courses/{courseId}. */
  readonly path: string
  /** The path with valid values for its parameters, and a valid query string where needed. */
  readonly url: string
  /** Whether the route takes a body (it documents a requestBody). */
  readonly takesBody: boolean
}

/** Valid values for the parameters the API's paths and queries use. */
const PARAMETERS: Readonly<Record<string, string>> = {
  courseId: 'C0001',
  requestId: '00000000-0000-4000-8000-000000000000',
}
const QUERIES: Readonly<Record<string, string>> = {
  '/api/v1/me/events': '?requests=00000000-0000-4000-8000-000000000000',
}

/** Every operation of the app's OpenAPI document, ready to be called. */
export function documentedRoutes(app: FastifyInstance): DocumentedRoute[] {
  const document = openapiDocument(app)
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, operation]) => {
      const filled = path.replace(/\{([A-Za-z0-9_]+)\}/g, (_, name: string) => {
        const value = PARAMETERS[name]
        if (!value) throw new Error(`no test value for the parameter ${name} of ${path}`)
        return value
      })
      return {
        method: method.toUpperCase() as DocumentedRoute['method'],
        path,
        url: filled + (QUERIES[path] ?? ''),
        takesBody: 'requestBody' in operation,
      }
    }),
  )
}

/** Methods a browser treats as changing state: no simple navigation sends them. */
export const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

export interface Answer {
  readonly status: number
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
  /** The body parsed as JSON; null when it is not JSON (or an event stream, not read). */
  readonly json: { error?: { code?: string; message?: string } } | null
}

/**
 * One request over a real socket, as a browser or a script would send it. An event stream is
 * answered with its headers only: the connection is closed once they arrive.
 */
export function send(
  port: number,
  method: string,
  url: string,
  { headers = {}, body }: { headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, method, path: url, headers, agent: false },
      (res) => {
        const type = String(res.headers['content-type'] ?? '')
        if (type.startsWith('text/event-stream')) {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, json: null })
          req.destroy()
          return
        }
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('error', reject)
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          let json: Answer['json'] = null
          if (type.includes('json') && text) json = JSON.parse(text) as Answer['json']
          resolve({ status: res.statusCode ?? 0, headers: res.headers, json })
        })
      },
    )
    req.on('error', reject)
    // With its length, as browsers and curl send a body (Node would otherwise send it chunked).
    if (body !== undefined) req.setHeader('content-length', Buffer.byteLength(body))
    req.end(body)
  })
}
