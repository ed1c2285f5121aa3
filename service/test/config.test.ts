import t from 'tap'
import { loadConfig } from '../src/config.js'

const base = { DATABASE_URL: 'mysql://u@h:3306/db', REDIS_URL: 'redis://h:6379' }

t.test('missing DATABASE_URL or REDIS_URL stops start-up with a clear message', async (t) => {
  t.throws(() => loadConfig({ REDIS_URL: base.REDIS_URL }), {
    name: 'ConfigError',
    message: /DATABASE_URL is not set/,
  })
  t.throws(() => loadConfig({ DATABASE_URL: base.DATABASE_URL }), {
    message: /REDIS_URL is not set/,
  })
})

t.test('production refuses to run without a session secret', async (t) => {
  t.throws(() => loadConfig({ ...base, NODE_ENV: 'production' }), {
    message: /SESSION_SECRET is required/,
  })
  t.throws(() => loadConfig({ ...base, SESSION_SECRET: 'short' }), { message: /at least 32 bytes/ })
  const config = loadConfig({ ...base, NODE_ENV: 'production', SESSION_SECRET: 'x'.repeat(32) })
  t.equal(config.cookieSecure, true, 'cookies are Secure behind HTTPS')
  t.equal(config.trustProxy, true, 'client addresses come from the load balancer')
})

t.test('bad values are named in the error', async (t) => {
  t.throws(() => loadConfig({ ...base, PORT: 'eighty' }), { message: /PORT must be an integer/ })
  t.throws(() => loadConfig({ ...base, DATABASE_URL: 'postgres://x' }), { message: /mysql:\/\// })
  t.throws(() => loadConfig({ ...base, REGISTRATION_OPENS_AT: 'soon' }), { message: /ISO 8601/ })
})

t.test('defaults follow the contract', async (t) => {
  const config = loadConfig(base)
  t.equal(config.port, 3000)
  t.equal(config.host, '127.0.0.1')
  t.equal(config.metricsPort, 9464)
  t.equal(config.databaseReplicaUrl, undefined)
  t.equal(config.sessionSecretProvided, false)
})

t.test('the CLI exits non-zero with the message when configuration is missing', async (t) => {
  const { spawnSync } = await import('node:child_process')
  const { fileURLToPath } = await import('node:url')
  const bin = fileURLToPath(new URL('../bin/sugang.js', import.meta.url))
  const env = { ...process.env, DATABASE_URL: '', REDIS_URL: 'redis://127.0.0.1:6379' }
  const run = spawnSync(process.execPath, [bin, 'serve'], { env, encoding: 'utf8' })
  t.equal(run.status, 2)
  t.match(run.stderr, /DATABASE_URL is not set/)
  const unknown = spawnSync(process.execPath, [bin, 'launch'], { env, encoding: 'utf8' })
  t.equal(unknown.status, 1)
  t.match(unknown.stderr, /Unknown command "launch"/)
})
