// The MONITOR reader the round-trip tests count commands with: every argument comes back as sent,
// and opening it while the server is busy loses nothing and throws nothing.
import t from 'tap'
import { Redis } from 'ioredis'
import { REDIS_URL } from '../helper.js'
import { monitor, type MonitorLine } from './redis-monitor.js'

async function seen(
  marker: string,
  send: (client: Redis) => Promise<unknown>,
  wanted: (line: MonitorLine) => boolean = () => true,
): Promise<MonitorLine> {
  const watch = await monitor(REDIS_URL)
  const client = new Redis(REDIS_URL)
  try {
    const line = new Promise<MonitorLine>((resolve) => {
      watch.on((l) => {
        if (l.args.some((a) => a.includes(marker)) && wanted(l)) resolve(l)
      })
    })
    await send(client)
    return await line
  } finally {
    client.disconnect()
    watch.close()
  }
}

t.test('arguments come back as they were sent, quotes and control bytes included', async (t) => {
  const marker = `monitor-test-${Math.random()}`
  const value = 'a "quoted" value\\ with\nnewline\ttab \x01 and \xe9'
  const line = await seen(marker, (c) => c.echo(`${marker}|${value}`))
  t.same(line.args, ['echo', `${marker}|${Buffer.from(value, 'utf8').toString('latin1')}`])
  t.match(line.source, /^127\.0\.0\.1:\d+$/)
})

t.test("a script's commands are marked lua", async (t) => {
  const key = `monitor-test-${Math.random()}`
  const line = await seen(
    key,
    (c) => c.eval("return redis.call('get', KEYS[1])", 1, key),
    (l) => l.source === 'lua',
  )
  t.same(line.args, ['get', key])
})

t.test('opening it on a busy server neither throws nor misses commands sent after', async (t) => {
  const flood = new Redis(REDIS_URL)
  let flooding = true
  const floodDone = (async () => {
    while (flooding)
      await Promise.all(Array.from({ length: 100 }, () => flood.smembers('monitor-test:busy')))
  })()
  try {
    for (let i = 0; i < 50; i++) {
      const marker = `monitor-test-${i}-${Math.random()}`
      const line = await seen(marker, (c) => c.echo(marker))
      t.same(line.args, ['echo', marker])
    }
  } finally {
    flooding = false
    await floodDone
    flood.disconnect()
  }
})
