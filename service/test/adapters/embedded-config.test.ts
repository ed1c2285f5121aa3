import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { loadConfig, loadNotifierConfig } from '../../src/config.js'
import { withKeptSessionSecret } from '../../src/wiring/session-secret.js'

const SERVICE_DATA = fileURLToPath(new URL('../../data/sugang.sqlite', import.meta.url))

t.test(
  'neither URL: the embedded store, at SQLITE_PATH or service/data/sugang.sqlite',
  async (t) => {
    t.same(loadConfig({}).storage, {
      kind: 'embedded',
      sqlitePath: SERVICE_DATA,
    })
    t.same(loadConfig({ SQLITE_PATH: 'demo/here.sqlite' }).storage, {
      kind: 'embedded',
      sqlitePath: resolve('demo/here.sqlite'),
    })
    t.equal(loadConfig({ SQLITE_PATH: '/var/tmp/x.sqlite' }).storage.kind, 'embedded')
    t.equal(loadConfig({}).role, 'all', 'the one instance takes requests and admits')
    t.equal(loadConfig({}).registration.opensAt, null, 'registration is open at once')
  },
)

t.test('the default file is the same wherever sugang is run from', async (t) => {
  const cwd = process.cwd()
  t.teardown(() => process.chdir(cwd))
  const seen = new Set<string>()
  for (const dir of [fileURLToPath(new URL('../../..', import.meta.url)), tmpdir()]) {
    process.chdir(dir)
    const storage = loadConfig({}).storage
    seen.add(storage.kind === 'embedded' ? storage.sqlitePath : '')
    const notifier = loadNotifierConfig({ MAIL_FROM: 'sugang@example.ac.kr' }).database
    seen.add(notifier.kind === 'embedded' ? notifier.sqlitePath : '')
    t.equal(
      (loadConfig({ SQLITE_PATH: 'mine.sqlite' }).storage as { sqlitePath: string }).sqlitePath,
      resolve(dir, 'mine.sqlite'),
      'a path given relative is taken from where it was given',
    )
  }
  t.same([...seen], [SERVICE_DATA], 'the repository root, or anywhere else: service/data')
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
    redisCourseGroups: 1,
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

t.test('development on the embedded store keeps its session key beside the database', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sugang-secret-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const config = loadConfig({ SQLITE_PATH: join(dir, 'data', 'demo.sqlite') })
  const file = join(dir, 'data', 'demo.session-secret')
  t.equal(config.sessionSecretFile, file)
  t.notOk(existsSync(file), 'reading the configuration writes nothing')

  const first = withKeptSessionSecret(config)
  t.equal(statSync(file).mode & 0o777, 0o600, 'created readable by its owner only')
  t.ok(Buffer.byteLength(first.sessionSecret) >= 32)
  t.not(first.sessionSecret, config.sessionSecret, 'not the per-process random key')
  const again = withKeptSessionSecret(loadConfig({ SQLITE_PATH: join(dir, 'data', 'demo.sqlite') }))
  t.equal(again.sessionSecret, first.sessionSecret, 'the next start signs with the same key')

  chmodSync(file, 0o644)
  withKeptSessionSecret(config)
  t.equal(statSync(file).mode & 0o777, 0o600, 'a key others could read is made private again')

  writeFileSync(file, 'short\n')
  t.throws(() => withKeptSessionSecret(config), {
    name: 'ConfigError',
    message: /demo\.session-secret must hold a session key of at least 32 bytes: delete it/,
  })
})

t.test('a configured secret, MySQL and production never use a kept key', async (t) => {
  const given = loadConfig({ SESSION_SECRET: 'y'.repeat(32) })
  t.equal(given.sessionSecretFile, null)
  t.equal(withKeptSessionSecret(given).sessionSecret, 'y'.repeat(32))
  const mysqlConfig = loadConfig({
    DATABASE_URL: 'mysql://u@h:3306/db',
    REDIS_URL: 'redis://h:6379',
  })
  t.equal(mysqlConfig.sessionSecretFile, null, 'Redis sessions; a random key until one is set')
  t.throws(
    () =>
      loadConfig({
        NODE_ENV: 'production',
        DATABASE_URL: 'mysql://u@h/db',
        REDIS_URL: 'redis://h',
      }),
    { message: /SESSION_SECRET is required in production/ },
  )
})
