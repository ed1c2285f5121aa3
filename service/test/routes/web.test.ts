import { readFile, readdir } from 'node:fs/promises'
import t from 'tap'
import { openapiDocument } from '../../src/plugins/app/openapi.js'
import { configFrom, isolatedEnv, startInstance } from '../helper.js'

const WEB = new URL('../../src/web/', import.meta.url)

/** The asset URLs the page refers to (src and href attributes under /assets/). */
function assetsOf(html: string): string[] {
  return [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1] as string)
}

/** The modules a script imports, as /assets/ URLs (relative imports only: there are no others). */
function importsOf(source: string): string[] {
  return [...source.matchAll(/^import\s[^'"]*['"]\.\/([^'"]+)['"]/gm)].map(
    (m) => `/assets/${m[1] as string}`,
  )
}

const CONTENT_TYPES: Record<string, RegExp> = {
  js: /^(?:text|application)\/javascript\b/,
  css: /^text\/css\b/,
  svg: /^image\/svg\+xml\b/,
}

t.test('the student page', async (t) => {
  const env = await isolatedEnv(t, 'web')
  const app = await startInstance(t, configFrom(env), { worker: false })
  const html = await readFile(new URL('index.html', WEB), 'utf8')

  t.test('GET / is index.html, without a session, never cached stale', async (t) => {
    const res = await app.inject({ method: 'GET', url: '/' })
    t.equal(res.statusCode, 200)
    t.match(res.headers['content-type'], /^text\/html; charset=utf-8/i)
    t.equal(res.headers['cache-control'], 'no-cache')
    t.ok(res.headers.etag, 'an ETag to revalidate against')
    t.equal(res.body, html, 'the file as it is')
    t.ok(res.headers['x-request-id'], 'the usual request id')

    const again = await app.inject({
      method: 'GET',
      url: '/',
      headers: { 'if-none-match': String(res.headers.etag) },
    })
    t.equal(again.statusCode, 304, 'revalidation costs a 304')
    t.equal(again.body, '')
  })

  t.test('the page carries a strict Content-Security-Policy and nosniff', async (t) => {
    const res = await app.inject({ method: 'GET', url: '/' })
    const csp = String(res.headers['content-security-policy'])
    const directives = new Map(
      csp.split(';').map((d) => {
        const [name, ...values] = d.trim().split(/\s+/)
        return [name, values.join(' ')] as const
      }),
    )
    t.equal(directives.get('default-src'), "'self'")
    t.equal(directives.get('script-src'), "'self'")
    t.equal(directives.get('style-src'), "'self'")
    t.equal(directives.get('connect-src'), "'self'", 'fetch and EventSource: same origin only')
    t.equal(directives.get('object-src'), "'none'")
    t.equal(directives.get('frame-ancestors'), "'none'")
    t.notMatch(csp, /unsafe-inline|unsafe-eval|\*/, 'nothing inline, nothing from anywhere')
    t.equal(res.headers['x-content-type-options'], 'nosniff')
    t.equal(res.headers['referrer-policy'], 'no-referrer')
    t.equal(res.headers['x-frame-options'], 'DENY')
  })

  t.test('the page itself keeps to that policy: no inline script, style or handler', async (t) => {
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)]
    t.ok(scripts.length > 0, 'it has a script')
    for (const [, attributes, body] of scripts) {
      t.match(attributes, /\bsrc="\/assets\/[^"]+\.js"/, 'every script is a file of /assets/')
      t.equal(body?.trim(), '', 'with no inline code')
    }
    t.notMatch(html, /<style\b/i, 'no <style> element')
    t.notMatch(html, /\sstyle=/i, 'no style attribute')
    t.notMatch(html, /\son[a-z]+=/i, 'no inline event handler')
    t.notMatch(html, /https?:\/\//, 'nothing from another origin')
  })

  t.test('HEAD / answers like GET, without a body', async (t) => {
    const get = await app.inject({ method: 'GET', url: '/' })
    const head = await app.inject({ method: 'HEAD', url: '/' })
    t.equal(head.statusCode, 200)
    t.equal(head.body, '')
    t.equal(head.headers['content-type'], get.headers['content-type'])
    t.equal(head.headers['content-security-policy'], get.headers['content-security-policy'])
    t.equal(head.headers['cache-control'], 'no-cache')
  })

  t.test('every asset the page loads is served with its content type', async (t) => {
    const urls = new Set(assetsOf(html))
    // The modules app.js imports, and theirs, are fetched by the browser from /assets/ too.
    const pending = [...urls].filter((u) => u.endsWith('.js'))
    while (pending.length > 0) {
      const url = pending.pop() as string
      const source = await readFile(new URL(url.slice('/assets/'.length), WEB), 'utf8')
      for (const imported of importsOf(source)) {
        if (!urls.has(imported)) {
          urls.add(imported)
          pending.push(imported)
        }
      }
    }
    t.ok(urls.has('/assets/app.js') && urls.has('/assets/style.css'), 'the script and the style')
    t.ok(urls.size > 3, 'and the modules app.js imports')

    for (const url of urls) {
      const extension = url.split('.').pop() as string
      const res = await app.inject({ method: 'GET', url })
      t.equal(res.statusCode, 200, `${url} is served`)
      t.match(res.headers['content-type'], CONTENT_TYPES[extension] ?? /^$/, `${url} type`)
      t.equal(res.headers['x-content-type-options'], 'nosniff', `${url} nosniff`)
      t.match(res.headers['cache-control'], /must-revalidate|no-cache/, `${url} is revalidated`)
      t.ok(res.headers.etag, `${url} has an ETag`)
      const file = await readFile(new URL(url.slice('/assets/'.length), WEB), 'utf8')
      t.equal(res.body, file, `${url} is the file`)

      const head = await app.inject({ method: 'HEAD', url })
      t.equal(head.statusCode, 200, `HEAD ${url}`)
      t.equal(head.body, '', `HEAD ${url} has no body`)
      t.equal(head.headers['content-type'], res.headers['content-type'])

      const again = await app.inject({
        method: 'GET',
        url,
        headers: { 'if-none-match': String(res.headers.etag) },
      })
      t.equal(again.statusCode, 304, `${url} revalidates with a 304`)
    }
  })

  t.test('every file of the page is reachable, and only those', async (t) => {
    const files = (await readdir(WEB)).filter((f) => f !== 'index.html')
    for (const file of files) {
      const res = await app.inject({ method: 'HEAD', url: `/assets/${file}` })
      t.equal(res.statusCode, 200, `/assets/${file}`)
    }
  })

  t.test('what is not an asset is a 404 in the contract’s error shape', async (t) => {
    const urls = [
      '/assets/nope.js',
      '/assets/',
      '/assets',
      '/assets/index.html',
      '/assets/app.js.map',
      '/assets/.env',
      '/assets/../package.json',
      '/assets/%2e%2e/package.json',
      '/assets/..%2f..%2fpackage.json',
      '/assets/%2e%2e%2f%2e%2e%2fplugins/app/web.ts',
      '/index.html',
      '/app.js',
    ]
    for (const url of urls) {
      const res = await app.inject({ method: 'GET', url })
      t.ok(res.statusCode >= 400 && res.statusCode < 500, `${url} is refused (${res.statusCode})`)
      t.match(res.headers['content-type'], /^application\/json/, `${url} answers JSON`)
      const body = res.json() as { error?: { code?: unknown; message?: unknown } }
      t.type(body.error?.code, 'string', `${url} has an error code`)
      t.type(body.error?.message, 'string', `${url} has an error message`)
      t.notMatch(res.body, /sugang|import |<html/, `${url} leaks no file`)
    }

    const missing = await app.inject({ method: 'GET', url: '/assets/nope.js' })
    t.equal(missing.statusCode, 404)
    t.same(missing.json(), { error: { code: 'NOT_FOUND', message: 'There is no such route.' } })
    t.notOk(missing.headers.etag, 'an error is not a cacheable asset')

    const head = await app.inject({ method: 'HEAD', url: '/assets/nope.js' })
    t.equal(head.statusCode, 404, 'HEAD of a missing asset is a 404 too')
    t.equal(head.body, '')
  })

  t.test('the page is GET and HEAD only', async (t) => {
    for (const [method, url] of [
      ['POST', '/'],
      ['DELETE', '/'],
      ['PUT', '/assets/app.js'],
    ] as const) {
      const res = await app.inject({ method, url, payload: {} })
      t.equal(res.statusCode, 404, `${method} ${url}`)
      t.equal(res.json().error.code, 'NOT_FOUND')
    }
  })

  t.test('the API is untouched: it still needs a session and answers JSON', async (t) => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/courses' })
    t.equal(res.statusCode, 401)
    t.equal(res.json().error.code, 'UNAUTHENTICATED')
    t.notOk(res.headers['content-security-policy'], 'the page’s headers stay with the page')
  })

  t.test('the page is not part of the OpenAPI document', async (t) => {
    const paths = Object.keys(openapiDocument(app).paths)
    t.ok(paths.length > 0)
    t.notOk(
      paths.some((p) => p === '/' || p.startsWith('/assets')),
      'no / or /assets in the document',
    )
  })

  t.test('the elements a browser test looks for are on the page', async (t) => {
    for (const testid of [
      'login-form',
      'login-student-id',
      'login-password',
      'login-submit',
      'login-error',
      'logout-button',
      'countdown',
      'registration-status',
      'course-list',
      'course-search',
      'filter-seats',
      'filter-day',
      'cart-list',
      'cart-request-button',
      'request-list',
      'connection-status',
      'timetable-grid',
      'timetable-credits',
      'confirm-dialog',
      'lang-switch',
      'skip-rush',
      'server-clock',
      'bar-request-button',
      'bar-wait',
      'wait-panel',
      'cart-conflicts',
    ]) {
      t.match(html, new RegExp(`data-testid="${testid}"`), testid)
    }
  })
})
