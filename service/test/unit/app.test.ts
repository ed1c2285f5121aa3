import t from 'tap'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'

t.test('the app builds without a deprecation warning from its framework', async (t) => {
  const warnings: string[] = []
  const onWarning = (w: Error & { code?: string }) =>
    warnings.push(`${w.code ?? w.name}: ${w.message}`)
  process.on('warning', onWarning)
  t.teardown(() => process.off('warning', onWarning))
  // Nothing listens on port 1: building and readying the app must not need MySQL or Redis.
  const app = await buildApp({
    config: loadConfig({
      DATABASE_URL: 'mysql://root@127.0.0.1:1/none',
      REDIS_URL: 'redis://127.0.0.1:1',
      LOG_LEVEL: 'silent',
    }),
  })
  t.teardown(() => app.close())
  await app.ready()
  // Warnings are emitted on the next tick.
  await new Promise((resolve) => setImmediate(resolve))
  t.same(warnings, [])
})
