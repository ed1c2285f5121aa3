import { resolve } from 'node:path'
import t from 'tap'
import { loadConfig } from '../../src/config.js'

t.test('neither URL: the embedded store, at SQLITE_PATH or ./data/sugang.sqlite', async (t) => {
  t.same(loadConfig({}).storage, {
    kind: 'embedded',
    sqlitePath: resolve('data', 'sugang.sqlite'),
  })
  t.same(loadConfig({ SQLITE_PATH: 'demo/here.sqlite' }).storage, {
    kind: 'embedded',
    sqlitePath: resolve('demo/here.sqlite'),
  })
  t.equal(loadConfig({ SQLITE_PATH: '/var/tmp/x.sqlite' }).storage.kind, 'embedded')
  t.equal(loadConfig({}).role, 'all', 'the one instance takes requests and admits')
  t.equal(loadConfig({}).registration.opensAt, null, 'registration is open at once')
})

t.test('both URLs: MySQL and Redis, and SQLITE_PATH is not read', async (t) => {
  const config = loadConfig({
    DATABASE_URL: 'mysql://u@h:3306/db',
    REDIS_URL: 'redis://h:6379',
    SQLITE_PATH: 'ignored.sqlite',
  })
  t.same(config.storage, {
    kind: 'mysql',
    databaseUrl: 'mysql://u@h:3306/db',
    redisUrl: 'redis://h:6379',
  })
})

t.test('mistakes are named, never papered over with the embedded store', async (t) => {
  t.throws(() => loadConfig({ REDIS_URL: 'redis://h:6379' }), {
    name: 'ConfigError',
    message: /DATABASE_URL is not set but REDIS_URL is/,
  })
  t.throws(() => loadConfig({ DATABASE_URL: 'mysql://u@h:3306/db' }), {
    message: /REDIS_URL is not set but DATABASE_URL is/,
  })
  t.throws(() => loadConfig({ NODE_ENV: 'production', SESSION_SECRET: 'x'.repeat(32) }), {
    message:
      'NODE_ENV=production needs DATABASE_URL and REDIS_URL; the embedded store is for trying sugang on one machine',
  })
  t.throws(() => loadConfig({ DATABASE_REPLICA_URL: 'mysql://u@r:3306/db' }), {
    message: /DATABASE_REPLICA_URL needs DATABASE_URL/,
  })
  t.throws(() => loadConfig({ ADMISSION_WORKER: 'false' }), {
    message: /ADMISSION_WORKER=false needs DATABASE_URL and REDIS_URL/,
  })
  t.throws(() => loadConfig({ SERVICE_ROLE: 'door' }), {
    message: /SERVICE_ROLE=door needs DATABASE_URL and REDIS_URL/,
  })
  t.throws(() => loadConfig({ SERVICE_ROLE: 'admission' }), {
    message: /SERVICE_ROLE=admission needs DATABASE_URL and REDIS_URL/,
  })
})
