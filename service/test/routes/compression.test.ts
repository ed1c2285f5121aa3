import { request as httpRequest } from 'node:http'
import { readFile } from 'node:fs/promises'
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import t from 'tap'
import { matchesEtag } from '../../src/routes/api/courses.js'
import {
  configFrom,
  database,
  isolatedEnv,
  login,
  seedDatabase,
  startInstance,
  waitFor,
} from '../helper.js'

const WEB = new URL('../../src/web/', import.meta.url)

function decoded(encoding: unknown, raw: Buffer): string {
  if (encoding === 'br') return brotliDecompressSync(raw).toString('utf8')
  if (encoding === 'gzip') return gunzipSync(raw).toString('utf8')
  return raw.toString('utf8')
}

t.test(
  'the page and the course list travel compressed, and a course list not changed is a 304',
  async (t) => {
    const env = await isolatedEnv(t, 'compress')
    const config = configFrom(env)
    await seedDatabase(config, { students: 3, courses: 40, capacity: 30 })
    const app = await startInstance(t, config, { worker: false })
    const cookie = await login(app, 'S000001')

    t.test('the page and its files, brotli or gzip as the browser offers', async (t) => {
      for (const [url, file] of [
        ['/', 'index.html'],
        ['/assets/app.js', 'app.js'],
        ['/assets/style.css', 'style.css'],
      ] as const) {
        const source = await readFile(new URL(file, WEB), 'utf8')
        for (const offer of ['gzip, deflate, br, zstd', 'gzip']) {
          const res = await app.inject({
            method: 'GET',
            url,
            headers: { 'accept-encoding': offer },
          })
          t.equal(res.statusCode, 200, `${url} (${offer})`)
          const encoding = res.headers['content-encoding']
          t.equal(encoding, offer === 'gzip' ? 'gzip' : 'br', `${url} is sent ${encoding}`)
          t.match(res.headers.vary, /accept-encoding/i, `${url} says it varies by encoding`)
          t.ok(res.rawPayload.length < source.length / 2, `${url} is less than half its size`)
          t.equal(decoded(encoding, res.rawPayload), source, `${url} is the file`)
        }
        const plain = await app.inject({ method: 'GET', url })
        t.notOk(
          plain.headers['content-encoding'],
          `${url} as it is to a client that offers nothing`,
        )
        t.equal(plain.body, source)
      }
    })

    t.test('the course list: compressed, tagged, and 304 while nothing changed', async (t) => {
      const first = await app.inject({
        method: 'GET',
        url: '/api/v1/courses',
        headers: { cookie, 'accept-encoding': 'gzip, br' },
      })
      t.equal(first.statusCode, 200)
      t.equal(first.headers['content-encoding'], 'br')
      const list = JSON.parse(decoded('br', first.rawPayload)) as {
        courses: Array<{ id: string; seatsLeft: number }>
      }
      t.equal(list.courses.length, 40, 'the whole list')
      const etag = String(first.headers.etag)
      t.match(etag, /^W\/"[A-Za-z0-9_-]+"$/, 'a weak entity tag')
      t.equal(first.headers['cache-control'], 'no-store', 'still never kept by a shared cache')

      const again = await app.inject({
        method: 'GET',
        url: '/api/v1/courses',
        headers: { cookie, 'accept-encoding': 'gzip, br', 'if-none-match': etag },
      })
      t.equal(again.statusCode, 304, 'not modified')
      t.equal(again.rawPayload.length, 0, 'no body')
      t.equal(again.headers.etag, etag)

      const other = await app.inject({
        method: 'GET',
        url: '/api/v1/courses',
        headers: { cookie, 'if-none-match': 'W/"something-else"' },
      })
      t.equal(other.statusCode, 200, 'another tag gets the list')
      t.same(other.json(), list, 'the same list, uncompressed when not asked for')

      // A seat is taken: the list changes, and so does its tag (the catalogue reloads within 1 s).
      const db = await database(t, config)
      await db.query("UPDATE courses SET enrolled = 1 WHERE id = 'C0001'")
      const changed = await waitFor('the new list', async () => {
        const res = await app.inject({
          method: 'GET',
          url: '/api/v1/courses',
          headers: { cookie, 'if-none-match': etag },
        })
        return res.statusCode === 200 && res
      })
      t.not(changed.headers.etag, etag, 'a new tag')
      const seats = (changed.json() as typeof list).courses.find((c) => c.id === 'C0001')?.seatsLeft
      t.equal(seats, 29, 'with the seat taken')
    })

    t.test('the rush answers and the event stream are never compressed', async (t) => {
      const res = await app.inject({
        method: 'POST',
        url: '/api/v1/courses/C0002/enrollment-requests',
        headers: { cookie, 'accept-encoding': 'gzip, br' },
        payload: {},
      })
      t.equal(res.statusCode, 202)
      t.notOk(res.headers['content-encoding'], 'an enqueue answer as it is')
      const { requestId } = res.json() as { requestId: string }

      await app.listen({ host: '127.0.0.1', port: 0 })
      const address = app.server.address()
      if (!address || typeof address === 'string') throw new Error('no address')
      const first = await new Promise<{ encoding: unknown; type: unknown; text: string }>(
        (resolve, reject) => {
          const req = httpRequest(
            `http://127.0.0.1:${address.port}/api/v1/me/events?requests=${requestId}`,
            { headers: { cookie, accept: 'text/event-stream', 'accept-encoding': 'gzip, br' } },
          )
          req.on('error', reject)
          req.on('response', (stream) => {
            let text = ''
            stream.setEncoding('utf8')
            stream.on('data', (chunk: string) => {
              text += chunk
              // The first event arrives by itself, not held back until a compressor's buffer fills.
              if (text.includes('event: request')) {
                resolve({
                  encoding: stream.headers['content-encoding'],
                  type: stream.headers['content-type'],
                  text,
                })
                req.destroy()
              }
            })
          })
          req.end()
        },
      )
      t.notOk(first.encoding, 'no content-encoding')
      t.match(first.type, /^text\/event-stream/)
      t.match(first.text, new RegExp(`"requestId":"${requestId}"`), 'the event, as text')
    })
  },
)

t.test('If-None-Match is compared weakly, and a list of tags or * matches', async (t) => {
  t.ok(matchesEtag('W/"abc"', 'W/"abc"'))
  t.ok(matchesEtag('"abc"', 'W/"abc"'))
  t.ok(matchesEtag('W/"x", W/"abc"', 'W/"abc"'))
  t.ok(matchesEtag('*', 'W/"abc"'))
  t.notOk(matchesEtag(undefined, 'W/"abc"'))
  t.notOk(matchesEtag('W/"abcd"', 'W/"abc"'))
  t.notOk(matchesEtag('', 'W/"abc"'))
})
