import { readFile } from 'node:fs/promises'
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { generateOpenapi } from '../../src/openapi.js'
import { openapiDocument, type OpenApiDocument } from '../../src/plugins/app/openapi.js'
import { configFrom, isolatedEnv, startInstance } from '../helper.js'

const COMMITTED = new URL('../../../docs/openapi.json', import.meta.url)
const REGENERATE = 'run `npm run openapi -w service` and commit docs/openapi.json'
const ERROR_REF = '#/components/schemas/ErrorResponse'

/**
 * Every route the app registered, as [METHOD, path] pairs, read from Fastify's own route tree
 * (independent of the document). HEAD is left out: Fastify adds it to every GET by itself.
 */
function registeredRoutes(app: FastifyInstance): [string, string][] {
  const routes: [string, string][] = []
  const parents: string[] = []
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^([│ ]*)[├└]── (\S+)(?: \(([A-Z, ]+)\))?$/.exec(line.trimEnd())
    if (!match) continue
    const depth = (match[1] ?? '').length / 4
    const path = (parents[depth - 1] ?? '') + match[2]
    parents[depth] = path
    parents.length = depth + 1
    for (const method of (match[3] ?? '').split(', ').filter(Boolean)) {
      if (method !== 'HEAD') routes.push([method, path])
    }
  }
  return routes
}

/** Fastify's /courses/:courseId is OpenAPI's /courses/{courseId}. */
const openapiPath = (path: string): string => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')

function operations(document: OpenApiDocument) {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, operation]) => ({ path, method, operation })),
  )
}

/** Every $ref anywhere in the document. */
function refs(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) for (const item of value) refs(item, found)
  else if (value && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      if (key === '$ref' && typeof inner === 'string') found.push(inner)
      else refs(inner, found)
    }
  }
  return found
}

t.test('docs/openapi.json is what the route schemas generate now', async (t) => {
  const generated = await generateOpenapi()
  const committed = await readFile(COMMITTED, 'utf8').catch(() => null)
  t.ok(committed !== null, `docs/openapi.json is missing: ${REGENERATE}`)
  // One message, not a diff of thousands of lines, when a schema changed without regenerating.
  t.ok(committed === generated, `docs/openapi.json is out of date: ${REGENERATE}`)
  t.ok(generated.endsWith('}\n'), 'one trailing newline')
})

t.test('the document describes every route, and the running instance serves it', async (t) => {
  const env = await isolatedEnv(t, 'openapi')
  const app = await startInstance(t, configFrom(env), { worker: false })
  const document = openapiDocument(app)
  // Generated without MySQL or Redis, with a configuration of its own: the same document.
  t.same(document, JSON.parse(await generateOpenapi()), 'the document does not depend on config')

  t.test('every route under /api/v1 and /health is documented with its methods', async (t) => {
    const routes = registeredRoutes(app).filter(
      ([, path]) => path.startsWith('/api/v1/') || path.startsWith('/health/'),
    )
    // The tree was read right: a nested route and a health route are among them.
    t.ok(routes.some(([m, p]) => m === 'POST' && p.endsWith('/:courseId/enrollment-requests')))
    t.ok(routes.some(([m, p]) => m === 'GET' && p === '/health/live'))
    for (const [method, path] of routes) {
      t.ok(
        document.paths[openapiPath(path)]?.[method.toLowerCase()],
        `${method} ${path} is documented (${REGENERATE})`,
      )
    }
    const registered = new Set(routes.map(([m, p]) => `${m} ${openapiPath(p)}`))
    for (const { path, method } of operations(document)) {
      t.ok(registered.has(`${method.toUpperCase()} ${path}`), `${method} ${path} is a route`)
    }
  })

  t.test('every error response is the shared error schema, and every $ref resolves', async (t) => {
    const schemas = document.components.schemas ?? {}
    t.ok(schemas.ErrorResponse, 'ErrorResponse is a component')
    for (const ref of refs(document)) {
      const name = ref.startsWith('#/components/schemas/') ? ref.split('/').pop() : undefined
      t.ok(name && schemas[name], `${ref} resolves`)
    }
    for (const { path, method, operation } of operations(document)) {
      const name = `${method.toUpperCase()} ${path}`
      const errors = Object.entries(operation.responses).filter(([status]) => Number(status) >= 400)
      for (const [status, response] of errors) {
        t.equal(
          response.content?.['application/json']?.schema?.$ref,
          ERROR_REF,
          `${name} ${status} is an ErrorResponse`,
        )
      }
      const statuses = errors.map(([status]) => status)
      if (path.startsWith('/api/v1/')) {
        // Load shedding, a dependency that does not answer, and shutdown: any API route.
        t.ok(statuses.includes('503'), `${name} lists 503`)
      }
      if (operation.security) {
        t.same(operation.security, [{ session: [] }], `${name} needs the session cookie`)
        t.ok(statuses.includes('401') && statuses.includes('429'), `${name} lists 401 and 429`)
      }
      t.ok(operation.summary && operation.tags?.length, `${name} has a summary and a tag`)
    }
    // /health/live answers 200 whenever the process runs: its only error is a client's mistake
    // (a body, which no route without a body schema takes).
    t.same(
      Object.keys(document.paths['/health/live']?.get?.responses ?? {}).sort(),
      ['200', '400'],
      '/health/live has only 200, and 400 for a body',
    )
  })

  t.test('exactly the routes without config.public need the session', async (t) => {
    t.notOk(document.paths['/api/v1/auth/login']?.post?.security, 'login is public')
    t.notOk(document.paths['/api/v1/openapi.json']?.get?.security, 'the document is public')
    t.ok(document.paths['/api/v1/courses']?.get?.security, 'the catalogue needs a session')
    t.notOk(document.paths['/health/ready']?.get?.security, 'readiness is public')
  })

  t.test('GET /api/v1/openapi.json serves the same document, without a session', async (t) => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/openapi.json' })
    t.equal(res.statusCode, 200)
    t.match(res.headers['content-type'], /^application\/json/)
    t.same(res.json(), document, 'the served document is the generated one')
  })

  t.test('/docs renders the document for people, without a session', async (t) => {
    const page = await app.inject({ method: 'GET', url: '/docs/' })
    t.equal(page.statusCode, 200)
    t.match(page.headers['content-type'], /^text\/html/)
    t.match(String(page.headers['content-security-policy']), /default-src 'self'/)
    const json = await app.inject({ method: 'GET', url: '/docs/json' })
    t.same(json.json(), document, 'the same document')
  })
})
