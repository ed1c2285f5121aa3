import t from 'tap'
import { loadConfig } from '../../src/config.js'

const base = { DATABASE_URL: 'mysql://u@h:3306/db', REDIS_URL: 'redis://h:6379' }
/** A production environment that starts, for the settings production refuses. */
const production = { ...base, NODE_ENV: 'production', SESSION_SECRET: 'x'.repeat(32) }

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
  const config = loadConfig(production)
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
  const bin = fileURLToPath(new URL('../../bin/sugang.js', import.meta.url))
  const env = { ...process.env, DATABASE_URL: '', REDIS_URL: 'redis://127.0.0.1:6379' }
  const run = spawnSync(process.execPath, [bin, 'serve'], { env, encoding: 'utf8' })
  t.equal(run.status, 2)
  t.match(run.stderr, /DATABASE_URL is not set/)
  const unknown = spawnSync(process.execPath, [bin, 'launch'], { env, encoding: 'utf8' })
  t.equal(unknown.status, 1)
  t.match(unknown.stderr, /Unknown command "launch"/)
})

t.test('settings that changed meaning are refused by name, not silently ignored', async (t) => {
  t.throws(() => loadConfig({ ...base, LOGIN_RATE_LIMIT_MAX: '30' }), {
    message: /LOGIN_RATE_LIMIT_MAX is no longer read: use LOGIN_ADDRESS_FAILURES/,
  })
})

t.test('the password cost is a power of two, and production refuses a demo cost', async (t) => {
  t.throws(() => loadConfig({ ...base, PASSWORD_SCRYPT_N: '1000' }), { message: /power of two/ })
  t.throws(() => loadConfig({ ...production, PASSWORD_SCRYPT_N: '16' }), {
    message: /demo and load-test data only/,
  })
  t.equal(loadConfig(base).passwordCost.N, 32768, 'the default is 2^15')
})

t.test('the metrics listener stays on loopback unless told otherwise', async (t) => {
  t.equal(loadConfig(base).metricsHost, '127.0.0.1')
  t.equal(
    loadConfig({ ...base, HOST: '0.0.0.0' }).metricsHost,
    '127.0.0.1',
    'HOST does not move it',
  )
  t.equal(loadConfig({ ...base, METRICS_HOST: '0.0.0.0' }).metricsHost, '0.0.0.0')
})

t.test('deadlines have documented defaults', async (t) => {
  t.same(loadConfig(base).deadlines, {
    redisMs: 1000,
    mysqlMs: 1500,
    redisMaxInFlight: 10_000,
    requestMs: 10_000,
    keepAliveMs: 65_000,
  })
  t.equal(loadConfig(base).maxWaitlistPerStudent, 5)
})

t.test('campus networks are CIDRs, checked at start-up', async (t) => {
  const { login } = loadConfig({
    ...base,
    LOGIN_CAMPUS_NETWORKS: '203.0.113.0/24, 198.51.100.7 ,2001:db8:cafe::/48',
  })
  t.same(login.campusNetworks, ['203.0.113.0/24', '198.51.100.7/32', '2001:db8:cafe::/48'])
  t.equal(login.campusAccountFailures, 3)
  t.equal(login.checksAtOnce, 4, "the thread pool's size")
  t.equal(login.checkMaxWaitMs, 5_000)
  const gate = loadConfig({
    ...base,
    LOGIN_CHECKS_AT_ONCE: '2',
    LOGIN_CHECK_MAX_WAIT_MS: '0',
  }).login
  t.same([gate.checksAtOnce, gate.checkMaxWaitMs], [2, 0])
  t.throws(() => loadConfig({ ...base, LOGIN_CHECKS_AT_ONCE: '0' }), /LOGIN_CHECKS_AT_ONCE/)
  t.same(loadConfig(base).login.campusNetworks, [], 'none unless configured')
  for (const bad of ['203.0.113.0/33', 'campus', '203.0.113.0/24/1', '10.0.0.0/', '::1/129']) {
    t.throws(() => loadConfig({ ...base, LOGIN_CAMPUS_NETWORKS: bad }), {
      message: /LOGIN_CAMPUS_NETWORKS must be a comma-separated list of networks/,
    })
  }
})

t.test(
  'SERVICE_ROLE says what a process runs; a bad value or a contradiction is refused',
  async (t) => {
    t.equal(loadConfig(base).role, 'all', 'door and admission in one process by default')
    t.equal(loadConfig({ ...base, SERVICE_ROLE: 'door' }).role, 'door')
    t.equal(loadConfig({ ...base, SERVICE_ROLE: 'admission' }).role, 'admission')
    t.equal(
      loadConfig({ ...base, ADMISSION_WORKER: 'false' }).role,
      'door',
      'ADMISSION_WORKER=false is the door role, as before',
    )
    t.equal(loadConfig({ ...base, ADMISSION_WORKER: 'true' }).role, 'all')
    t.equal(loadConfig({ ...base, ADMISSION_WORKER: 'false', SERVICE_ROLE: 'door' }).role, 'door')
    t.equal(
      loadConfig({ ...base, ADMISSION_WORKER: 'true', SERVICE_ROLE: 'admission' }).role,
      'admission',
    )
    t.throws(() => loadConfig({ ...base, SERVICE_ROLE: 'worker' }), {
      name: 'ConfigError',
      message: 'SERVICE_ROLE must be all, door or admission, got "worker"',
    })
    t.throws(() => loadConfig({ ...base, SERVICE_ROLE: 'Door' }), {
      message: /SERVICE_ROLE must be/,
    })
    t.throws(() => loadConfig({ ...base, ADMISSION_WORKER: 'false', SERVICE_ROLE: 'admission' }), {
      name: 'ConfigError',
      message: /ADMISSION_WORKER=false contradicts SERVICE_ROLE=admission/,
    })
    t.throws(() => loadConfig({ ...base, ADMISSION_WORKER: 'false', SERVICE_ROLE: 'all' }), {
      message: /ADMISSION_WORKER=false contradicts SERVICE_ROLE=all/,
    })
    t.throws(() => loadConfig({ ...base, ADMISSION_WORKER: 'true', SERVICE_ROLE: 'door' }), {
      message: /ADMISSION_WORKER=true contradicts SERVICE_ROLE=door/,
    })
    const noSecret = { ...base, NODE_ENV: 'production', PASSWORD_SCRYPT_N: '16384' }
    t.equal(
      loadConfig({ ...noSecret, SERVICE_ROLE: 'admission' }).role,
      'admission',
      'an admission process needs no session secret, even in production',
    )
    t.throws(() => loadConfig({ ...noSecret, SERVICE_ROLE: 'door' }), {
      message: /SESSION_SECRET is required/,
    })
    t.throws(() => loadConfig({ ...base, ADMISSION_WORKER: 'no' }), {
      message:
        'ADMISSION_WORKER must be "true" or "false", got "no" (SERVICE_ROLE=door replaces it)',
    })

    const { spawnSync } = await import('node:child_process')
    const { fileURLToPath } = await import('node:url')
    const bin = fileURLToPath(new URL('../../bin/sugang.js', import.meta.url))
    const run = spawnSync(process.execPath, [bin, 'serve'], {
      env: { ...process.env, ...base, SERVICE_ROLE: 'worker' },
      encoding: 'utf8',
      // A process that ignored the setting would start serving instead of exiting.
      timeout: 30_000,
    })
    t.equal(run.status, 2, 'sugang serve exits with a configuration error')
    t.match(run.stderr, /SERVICE_ROLE must be all, door or admission/)
  },
)

t.test('REGISTRATION_OPENS_IN opens registration that long after start-up', async (t) => {
  const before = Date.now()
  const config = loadConfig({ REGISTRATION_OPENS_IN: '3m' })
  const after = Date.now()
  const opensAt = config.registration.opensAt?.getTime() ?? 0
  t.ok(opensAt >= before + 180_000 && opensAt <= after + 180_000, 'three minutes from now')
  for (const [raw, ms] of [
    ['90s', 90_000],
    ['1h', 3_600_000],
  ] as const) {
    const at = loadConfig({ REGISTRATION_OPENS_IN: raw }).registration.opensAt?.getTime() ?? 0
    t.ok(at - Date.now() <= ms && at - Date.now() > ms - 60_000, raw)
  }
  for (const raw of ['soon', '3', '-1m', '1.5m', '2d', '25h']) {
    t.throws(() => loadConfig({ REGISTRATION_OPENS_IN: raw }), {
      name: 'ConfigError',
      message: `REGISTRATION_OPENS_IN must be a duration such as 90s, 3m or 1h (at most 24h), got "${raw}"`,
    })
  }
  t.throws(
    () =>
      loadConfig({
        REGISTRATION_OPENS_IN: '3m',
        REGISTRATION_OPENS_AT: '2026-02-09T10:00:00+09:00',
      }),
    { message: 'set REGISTRATION_OPENS_AT or REGISTRATION_OPENS_IN, not both' },
  )
  t.throws(() => loadConfig({ ...production, REGISTRATION_OPENS_IN: '3m' }), {
    message: /REGISTRATION_OPENS_IN counts from when each instance starts/,
  })
})

t.test('ADMISSION_PACE slows admission for the demo, never in production', async (t) => {
  t.equal(loadConfig(base).admission.pacePerSecond, 0, 'as fast as the store allows')
  t.equal(loadConfig({ ...base, ADMISSION_PACE: '4' }).admission.pacePerSecond, 4)
  t.throws(() => loadConfig({ ...base, ADMISSION_PACE: 'slow' }), {
    message: /ADMISSION_PACE must be an integer/,
  })
  t.throws(() => loadConfig({ ...production, ADMISSION_PACE: '4' }), {
    message: /ADMISSION_PACE slows admission down for the demo/,
  })
})

t.test(
  'REDIS_CLUSTER_NODES selects a Redis Cluster, with course groups spread over it',
  async (t) => {
    const cluster = {
      DATABASE_URL: base.DATABASE_URL,
      REDIS_CLUSTER_NODES: 'rediss://:tok@cfg.example:6379, rediss://:tok@n2.example:6379',
    }
    const config = loadConfig(cluster)
    t.match(config.storage, {
      kind: 'mysql',
      redisUrl: 'rediss://:tok@cfg.example:6379',
      redisClusterNodes: ['rediss://:tok@cfg.example:6379', 'rediss://:tok@n2.example:6379'],
      redisCourseGroups: 64,
    })
    t.match(loadConfig({ ...cluster, REDIS_COURSE_GROUPS: '128' }).storage, {
      redisCourseGroups: 128,
    })
    t.match(loadConfig(base).storage, { redisCourseGroups: 1 }, 'one group on a single node')
    t.notOk('redisClusterNodes' in loadConfig(base).storage)
    t.throws(() => loadConfig({ ...cluster, REDIS_URL: base.REDIS_URL }), {
      message: /REDIS_URL and REDIS_CLUSTER_NODES are both set/,
    })
    t.throws(() => loadConfig({ ...cluster, REDIS_CLUSTER_NODES: ' , ' }), {
      message: /REDIS_CLUSTER_NODES names no node/,
    })
    t.throws(() => loadConfig({ ...cluster, REDIS_CLUSTER_NODES: 'http://h:6379' }), {
      message: /REDIS_CLUSTER_NODES\[0\] must start with redis:\/\/ or rediss:\/\//,
    })
    t.throws(
      () =>
        loadConfig({
          ...cluster,
          REDIS_CLUSTER_NODES: 'rediss://:a@h1:6379,redis://:a@h2:6379',
        }),
      { message: /every node needs the same scheme and password/ },
    )
    t.throws(() => loadConfig({ ...cluster, REDIS_COURSE_GROUPS: '2000' }), {
      message: /REDIS_COURSE_GROUPS/,
    })
    t.throws(() => loadConfig({ REDIS_CLUSTER_NODES: cluster.REDIS_CLUSTER_NODES }), {
      message: /DATABASE_URL is not set/,
    })
  },
)
