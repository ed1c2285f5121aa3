import { basename } from 'node:path'
import fastifyStatic from '@fastify/static'
import type { FastifyInstance } from 'fastify'

/**
 * The student page's files: src/web when run from the sources, dist/web when built (the build
 * script copies src/web there), resolved from this file so either works.
 */
const WEB_ROOT = new URL('../../web/', import.meta.url)

/**
 * The page runs only its own files: no inline script or style, no other origin, not framed.
 * connect-src 'self' covers fetch and EventSource to the API on the same origin.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ')

const SECURITY_HEADERS = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
} as const

/**
 * The page is always revalidated, so a deploy reaches every student on their next load. The
 * assets are not fingerprinted (there is no build step), so they are revalidated too: an
 * unchanged file costs a 304 against its ETag, and the page never runs a stale module against
 * a new page.
 */
const PAGE_CACHE = 'no-cache'
const ASSET_CACHE = 'public, max-age=0, must-revalidate'

/** The page itself, served at / only. */
const PAGE = 'index.html'

/** What /assets/ serves: the page's scripts, styles and icons, by name, and nothing else. */
const ASSET = /^\/[A-Za-z0-9][A-Za-z0-9_-]*\.(?:js|css|svg)$/

/**
 * The student page: `/` is index.html, `/assets/<file>` its scripts and styles. Public (the page
 * asks GET /api/v1/me whether a session exists), hidden from the OpenAPI document (it is not
 * the API). Not wrapped in fastify-plugin: its headers and sendFile stay in this scope.
 */
export default async function web(app: FastifyInstance): Promise<void> {
  app.addHook('onRequest', async (_request, reply) => {
    reply.headers(SECURITY_HEADERS)
  })

  await app.register(fastifyStatic, {
    root: WEB_ROOT,
    prefix: '/assets/',
    index: false,
    redirect: false,
    dotfiles: 'ignore',
    etag: true,
    lastModified: true,
    // Our own Cache-Control below; send's would say max-age=0 without must-revalidate.
    cacheControl: false,
    // Under /assets/, anything else in the directory (index.html itself, a stray file) is a 404;
    // index.html is sent by the route of / alone.
    allowedPath: (pathName, _root, request) =>
      request.routeOptions.url === '/'
        ? pathName.replace(/^\//, '') === PAGE
        : ASSET.test(pathName),
    setHeaders: (reply, filePath) => {
      reply.header('cache-control', basename(filePath) === PAGE ? PAGE_CACHE : ASSET_CACHE)
    },
  })

  app.get('/', { schema: { hide: true } }, async (_request, reply) => {
    return reply.header('cache-control', PAGE_CACHE).sendFile(PAGE, { cacheControl: false })
  })
}
