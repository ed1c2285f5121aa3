// Relations between settings that live apart: the load balancer and the service's own timeouts,
// the maintenance windows and the registration calendar, the calendar and the window the service
// enforces once started as the instances start it, the Redis (one node or a cluster) the service
// selects from the env file the instances write, the profiles' floors, the placeholders a deploy
// refuses. Each is read from what is synthesized or from the service itself, never restated here.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { retryAfterMs } from '@sugang/service/client-policy'
import { loadConfig } from '@sugang/service/config'
import { HEARTBEAT_MS } from '@sugang/service/event-stream'
import { freePort } from '@sugang/testkit/ports'
import t from 'tap'
import { profiles } from '../src/config/index.js'
import { placeholderRefusal, placeholdersIn } from '../src/config/placeholders.js'
import type { PlatformConfig } from '../src/config/types.js'
import { capacityAlarmMinutes } from '../src/constructs/alarms.js'
import { freezeAt } from '../src/rush.js'
import {
  type Body,
  only,
  resourceList,
  synthPlatform,
  type SynthesizedPlatform,
  type SynthesizedStack,
  userData,
} from './helpers/synth.js'

const SERVICE_DIR = fileURLToPath(new URL('../../service/', import.meta.url))
const configs = [profiles.small, profiles.ha] as const
const platforms: Record<string, SynthesizedPlatform> = {
  small: synthPlatform(profiles.small),
  ha: synthPlatform(profiles.ha),
}

/**
 * The variables the env file gets written as they are (`echo 'NAME=value'`), i.e. every one but
 * those read from the stores at boot.
 */
function envFileSettings(stack: SynthesizedStack): Record<string, string> {
  const block = /\n\{\n([\s\S]*?)\n\} >\/run\/sugang\/app\.env\.new/.exec(userData(stack))?.[1]
  if (!block) throw new Error('no env file block in the user data')
  return Object.fromEntries(
    [...block.matchAll(/^\s*echo '([A-Z][A-Z0-9_]*)=([^']*)'$/gm)].map((m) => [m[1]!, m[2]!]),
  )
}

/** Stand-ins for the secrets sugang-prepare reads at boot, by the shell variable they land in. */
const SECRET_STAND_INS: Readonly<Record<string, string>> = {
  db_user: 'sugang_app',
  db_password: 'pw',
  redis_token: 'token',
  session_secret: 'x'.repeat(44),
  // What `sugang admin token NAME` prints for the parameter the operators write.
  admin_tokens: `alice:${'a'.repeat(64)},bob:${'b'.repeat(64)}`,
}

/**
 * The shell variables sugang-prepare sets from the runtime parameter (`db_host=$(setting
 * databaseHost)`): a literal as Terraform writes it (an empty replica host stays empty), and for
 * an address of the data stack a stand-in host named after the attribute it reads, e.g.
 * `configuration-endpoint-address.aws-elasticache-replication-group.internal`.
 */
function runtimeVariables(platform: SynthesizedPlatform): Record<string, string> {
  const parameter = resourceList(platform.app, 'aws_ssm_parameter').find((p) =>
    String(p.name).endsWith('/app/runtime'),
  )
  if (!parameter) throw new Error('no runtime parameter in the app stack')
  const runtime = JSON.parse(parameter.value as string) as Record<string, string>
  const variables: Record<string, string> = {}
  for (const [, name, key] of userData(platform.app).matchAll(/^(\w+)=\$\(setting (\w+)\)$/gm)) {
    const value = runtime[key!]
    if (value === undefined) throw new Error(`the runtime parameter has no ${key}`)
    const output = /^\$\{data\.terraform_remote_state\.[^.]+\.outputs\.([^}]+)\}$/.exec(value)?.[1]
    if (!output) {
      variables[name!] = value
      continue
    }
    const source = String(platform.data.tf.output?.[output]?.value)
    const [, type, attribute] = /^\$\{([a-z0-9_]+)\.[^.]+\.([a-z0-9_]+)\}$/.exec(source) ?? []
    if (!type || !attribute) throw new Error(`${key} is not an attribute of a resource: ${source}`)
    variables[name!] = `${attribute}.${type}.internal`.replaceAll('_', '-')
  }
  return variables
}

/**
 * The variables the env file gets from what boot reads (`echo "NAME=...$variable..."`, some under
 * `if [ -n "$variable" ]`), expanded with the stand-ins. A line or variable this does not know
 * fails, rather than leaving the service without a setting the instances give it.
 */
function bootSettings(platform: SynthesizedPlatform): Record<string, string> {
  const block = /\n\{\n([\s\S]*?)\n\} >\/run\/sugang\/app\.env\.new/.exec(
    userData(platform.app),
  )?.[1]
  if (!block) throw new Error('no env file block in the user data')
  const variables = { ...SECRET_STAND_INS, ...runtimeVariables(platform) }
  const expand = (text: string) =>
    text.replaceAll(/\$(\w+)/g, (_, name: string) => {
      const value = variables[name]
      if (value === undefined) throw new Error(`no stand-in for $${name} in the env file`)
      return value
    })
  const settings: Record<string, string> = {}
  const conditions: boolean[] = []
  for (const line of block.split('\n').map((l) => l.trim())) {
    const test = /^if \[ -n "(\$\w+)" \]; then$/.exec(line)?.[1]
    const setting = /^echo "([A-Z][A-Z0-9_]*)=([^"]*)"$/.exec(line)
    if (test) conditions.push(expand(test) !== '')
    else if (line === 'fi') conditions.pop()
    else if (setting) {
      if (conditions.every(Boolean)) settings[setting[1]!] = expand(setting[2]!)
    } else if (!(line === '' || line.startsWith('#') || /^echo '[^']*'$/.test(line))) {
      throw new Error(`an env file line this test does not read: ${line}`)
    }
  }
  return settings
}

/**
 * What the container runs with: the literal settings, and the ones boot reads with stand-ins for
 * the stores' values, each under the name the user data writes it.
 */
function containerEnv(platform: SynthesizedPlatform): Record<string, string> {
  return { ...envFileSettings(platform.app), ...bootSettings(platform) }
}

const instant = (value: string | undefined | null) =>
  value === undefined || value === null ? null : new Date(value).getTime()

t.test(
  'the load balancer idles longer than a stream stays silent, shorter than the service keeps a connection',
  async (t) => {
    for (const config of configs) {
      const platform = platforms[config.profile]!
      const idleMs = (only(platform.app, 'aws_lb').idle_timeout as number) * 1000
      // The service as the instances configure it: KEEP_ALIVE_TIMEOUT_MS is not set, so its default.
      const service = loadConfig(containerEnv(platform))
      t.ok(service.production, `${config.profile}: the production configuration`)
      t.ok(
        HEARTBEAT_MS < idleMs,
        `${config.profile}: a ${HEARTBEAT_MS} ms heartbeat keeps an event stream past the ALB's ${idleMs} ms`,
      )
      t.ok(
        idleMs < service.deadlines.keepAliveMs,
        `${config.profile}: the ALB closes an idle connection (${idleMs} ms) before the service does (${service.deadlines.keepAliveMs} ms), so it never sends on one the service closed`,
      )
    }
  },
)

t.test(
  'the service the instances configure runs on a Redis Cluster in ha and on one node in small',
  async (t) => {
    const seed = (endpoint: string) =>
      `rediss://:token@${endpoint}.aws-elasticache-replication-group.internal:6379`
    for (const [config, redis] of [
      [profiles.small, { url: seed('primary-endpoint-address'), nodes: undefined, groups: 1 }],
      [
        profiles.ha,
        {
          url: seed('configuration-endpoint-address'),
          nodes: [seed('configuration-endpoint-address')],
          // A cluster's default (REDIS_COURSE_GROUPS unset): enough groups for every shard to
          // hold an even share; request ids name their group, so it changes only with a new Redis.
          groups: 64,
        },
      ],
    ] as const) {
      const env = containerEnv(platforms[config.profile]!)
      const { storage, databaseReplicaUrl } = loadConfig(env)
      if (storage.kind !== 'mysql') {
        t.fail(`${config.profile}: MySQL and Redis, not ${storage.kind}`)
        continue
      }
      t.equal(storage.redisUrl, redis.url, `${config.profile}: Redis at ${redis.url}`)
      t.same(
        storage.redisClusterNodes,
        redis.nodes,
        redis.nodes ? 'a cluster, its configuration endpoint the one seed' : 'a single node',
      )
      t.equal(storage.redisCourseGroups, redis.groups, `${redis.groups} course groups`)
      t.equal(
        databaseReplicaUrl !== undefined,
        config.database.replicaInstanceClass !== undefined,
        'a replica URL exactly when there is a replica',
      )
    }
  },
)

t.test('the service enforces exactly the calendar’s window', async (t) => {
  for (const config of configs) {
    const { registration } = loadConfig(containerEnv(platforms[config.profile]!))
    const calendar = config.registration
    t.equal(registration.opensAt?.getTime(), instant(calendar.opensAt), `${config.profile}: opens`)
    t.equal(registration.closesAt?.getTime() ?? null, instant(calendar.closesAt), 'closes')
    t.same(
      Object.fromEntries([...registration.opensAtByYear].map(([y, at]) => [y, at.getTime()])),
      Object.fromEntries(
        Object.entries(calendar.opensAtByYear ?? {}).map(([y, at]) => [y, instant(at)]),
      ),
      'opens for each year at its own time',
    )
  }
})

t.test(
  'the admin listener the instances start is on the container’s loopback, on a port nothing publishes or admits',
  async (t) => {
    for (const config of configs) {
      const platform = platforms[config.profile]!
      const { admin } = loadConfig(containerEnv(platform))
      if (!admin) {
        t.fail(`${config.profile}: ADMIN_TOKENS from the parameter starts no admin listener`)
        continue
      }
      t.same([...admin.operators.values()], ['alice', 'bob'], `${config.profile}: the operators`)
      t.equal(admin.host, '127.0.0.1', 'loopback of the container: docker exec reaches it')
      const run = /^ExecStart=\/usr\/bin\/docker run (.*)$/m.exec(userData(platform.app))?.[1] ?? ''
      const published = [...run.matchAll(/-p (\d+):(\d+)/g)].map((m) => Number(m[2]))
      t.ok(published.length > 0, 'the container publishes ports')
      t.notOk(published.includes(admin.port), `port ${admin.port} is not published`)
      const inbound = Object.values(platform).flatMap((stack) =>
        resourceList(stack, 'aws_vpc_security_group_ingress_rule'),
      )
      t.notOk(
        inbound.some(
          (r) => r.ip_protocol === '-1' || (r.from_port <= admin.port && admin.port <= r.to_port),
        ),
        'and no security group admits it',
      )
    }
  },
)

t.test('every instant the service opens at has its scale-out before and a freeze', async (t) => {
  for (const config of configs) {
    const platform = platforms[config.profile]!
    const { registration } = loadConfig(containerEnv(platform))
    const opens = [registration.opensAt!, ...registration.opensAtByYear.values()]
    const { rush } = config.compute
    const starts = resourceList(platform.app, 'aws_autoscaling_schedule')
      .filter((a) => a.min_size === rush.instances)
      .map((a) => new Date(a.start_time as string).getTime())
    for (const at of opens) {
      const scaleOut = at.getTime() - rush.leadMinutes * 60_000
      t.ok(
        starts.some((s) => s <= scaleOut && s < at.getTime()),
        `${config.profile}: scaled out ${rush.leadMinutes} minutes before ${at.toISOString()}`,
      )
      t.ok(freezeAt(config.registration, rush, at), 'deploys frozen at the opening')
    }
  }
})

t.test('a scale-out that does not happen pages before the opening it was for', async (t) => {
  for (const config of configs) {
    const alarm = resourceList(platforms[config.profile]!.ops, 'aws_cloudwatch_metric_alarm').find(
      (a) => a.alarm_name === `sugang-${config.profile}-app-under-minimum`,
    )!
    t.equal(alarm.evaluation_periods, capacityAlarmMinutes(config.compute.instanceBootSeconds))
    t.ok(
      alarm.evaluation_periods < config.compute.rush.leadMinutes,
      `${config.profile}: pages ${alarm.evaluation_periods} minutes into the ${config.compute.rush.leadMinutes}-minute lead`,
    )
  }
})

t.test('small always keeps an instance, and ha two', async (t) => {
  for (const [config, floor] of [
    [profiles.small, 1],
    [profiles.ha, 2],
  ] as const) {
    const app = platforms[config.profile]!.app
    t.ok(only(app, 'aws_autoscaling_group').min_size >= floor, `${config.profile}: the group`)
    const scaleIns = resourceList(app, 'aws_autoscaling_schedule').filter((a) =>
      String(a.scheduled_action_name).endsWith('-in'),
    )
    t.ok(scaleIns.length > 0)
    for (const action of scaleIns) t.ok(action.min_size >= floor, 'back to it after each opening')
  }
  t.throws(
    () => synthPlatform({ ...profiles.small, compute: { ...profiles.small.compute, minSize: 0 } }),
    /compute\.minSize \(0\) must be at least 1/,
  )
})

/** Minutes after Sunday 00:00 UTC. */
const weekMinute = (at: Date) => at.getUTCDay() * 1440 + at.getUTCHours() * 60 + at.getUTCMinutes()
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat']

/** Whether the minute starting at `at` lies in a window `ddd:hh:mm-ddd:hh:mm` or `hh:mm-hh:mm`. */
function inWindow(window: string, at: Date): boolean {
  const parts = window.split('-').map((part) => part.split(':'))
  const weekly = parts[0]!.length === 3
  const minute = (p: string[]) =>
    (weekly ? DAYS.indexOf(p[0]!) * 1440 : 0) + Number(p.at(-2)) * 60 + Number(p.at(-1))
  const period = weekly ? 7 * 1440 : 1440
  const now = weekMinute(at) % period
  const [start, end] = [minute(parts[0]!), minute(parts[1]!)]
  return start < end ? start <= now && now < end : now >= start || now < end
}

/** Every minute from `from` (inclusive) to `to` (exclusive). */
function* minutesOf(from: number, to: number) {
  for (let at = from; at < to; at += 60_000) yield new Date(at)
}

t.test(
  'no maintenance in the day before an opening nor during its hold, none during a backup',
  async (t) => {
    for (const config of configs) {
      const data = platforms[config.profile]!.data
      const db = resourceList(data, 'aws_db_instance').find((d) => !d.replicate_source_db)!
      const cache = only(data, 'aws_elasticache_replication_group')
      const engines = [
        { name: 'database', maintenance: db.maintenance_window, backup: db.backup_window },
        { name: 'cache', maintenance: cache.maintenance_window, backup: cache.snapshot_window },
      ]
      t.equal(db.maintenance_window, config.database.maintenanceWindow, 'as the profile says')
      const { rush } = config.compute
      const { registration } = loadConfig(containerEnv(platforms[config.profile]!))
      const opens = [registration.opensAt!, ...registration.opensAtByYear.values()]
      for (const engine of engines) {
        const week = [...minutesOf(Date.UTC(2027, 0, 3), Date.UTC(2027, 0, 10))]
        t.notOk(
          week.some((m) => inWindow(engine.maintenance, m) && inWindow(engine.backup, m)),
          `${config.profile} ${engine.name}: maintenance ${engine.maintenance} and backup ${engine.backup} apart`,
        )
        for (const at of opens) {
          const from = at.getTime() - 24 * 3_600_000
          const to = at.getTime() + rush.holdMinutes * 60_000
          t.notOk(
            [...minutesOf(from, to)].some((m) => inWindow(engine.maintenance, m)),
            `${config.profile} ${engine.name}: no maintenance from a day before ${at.toISOString()} to its hold's end`,
          )
          const rushFrom = at.getTime() - rush.freezeBeforeMinutes * 60_000
          t.notOk(
            [...minutesOf(rushFrom, to)].some((m) => inWindow(engine.backup, m)),
            'no backup in the rush',
          )
        }
      }
    }
    // A window the calendar rules out does not synthesize.
    const ha = profiles.ha
    const monday = { ...ha, database: { ...ha.database, maintenanceWindow: 'sun:20:00-sun:21:00' } }
    t.throws(() => synthPlatform(monday), /database\.maintenanceWindow .* falls within 24 hours/)
    const onBackup = { ...ha, cache: { ...ha.cache, maintenanceWindow: 'fri:17:30-fri:18:30' } }
    t.throws(
      () => synthPlatform(onBackup),
      /cache\.maintenanceWindow .* overlaps cache\.snapshotWindow/,
    )
    const backupInRush = { ...ha, database: { ...ha.database, backupWindow: '00:30-01:30' } }
    t.throws(() => synthPlatform(backupInRush), /database\.backupWindow .* falls within the rush/)
  },
)

/** The committed profile with every example value replaced by a plausible real one. */
function filled(config: PlatformConfig): PlatformConfig {
  const account = config.profile === 'small' ? '403912758216' : '581276390415'
  return {
    ...config,
    accountId: account,
    registration: {
      opensAt: '2027-08-25T10:00:00+09:00',
      opensAtByYear: { 4: '2027-08-23T10:00:00+09:00' },
      closesAt: '2027-08-27T18:00:00+09:00',
    },
    state: { ...config.state, bucketName: `sugang-${config.profile}-tfstate-${account}` },
    edge: {
      ...config.edge,
      domainName: 'sugang.hanbit.ac.kr',
      ...(config.edge.hostedZoneId ? { hostedZoneId: 'Z04521873OQ7WJXK2P1D' } : {}),
      ...(config.edge.certificateArn
        ? {
            certificateArn: `arn:aws:acm:ap-northeast-2:${account}:certificate/6f1c2a9e-4b7d-4e0a-9c3b-2d8e5f7a1b40`,
          }
        : {}),
    },
    compute: { ...config.compute, amiId: 'ami-0c9a4e0f6b3d2e718' },
    notify: {
      ...config.notify,
      senderDomain: 'hanbit.ac.kr',
      fromAddress: 'sugang@hanbit.ac.kr',
      ...(config.notify.hostedZoneId ? { hostedZoneId: 'Z07761932B8KQJ0N4XWE' } : {}),
    },
    ops: { ...config.ops, alarmEmails: ['sugang-oncall@hanbit.ac.kr'] },
    ci: { ...config.ci, githubOrg: 'hanbit-university' },
  }
}

t.test('every placeholder is refused by its name, and a filled profile passes', async (t) => {
  for (const config of configs) {
    const real = filled(config)
    t.equal(placeholderRefusal([real]), undefined, `${config.profile}: nothing left to fill`)
    const app = synthPlatform(real).app
    t.equal(only(app, 'aws_launch_template').image_id, 'ami-0c9a4e0f6b3d2e718', 'it synthesizes')
    const fields = placeholdersIn(config).map((p) => p.field)
    t.ok(fields.length >= 10, `${config.profile}: ${fields.join(', ')}`)
    // Put each example value back alone: the refusal names it, and only it.
    const examples: [string, (c: PlatformConfig) => PlatformConfig][] = [
      ['accountId', (c) => ({ ...c, accountId: config.accountId })],
      ['registration', (c) => ({ ...c, registration: config.registration })],
      ['state.bucketName', (c) => ({ ...c, state: config.state })],
      [
        'edge.domainName',
        (c) => ({ ...c, edge: { ...c.edge, domainName: config.edge.domainName } }),
      ],
      ['compute.amiId', (c) => ({ ...c, compute: { ...c.compute, amiId: config.compute.amiId } })],
      [
        'notify.senderDomain',
        (c) => ({ ...c, notify: { ...c.notify, senderDomain: config.notify.senderDomain } }),
      ],
      [
        'notify.fromAddress',
        (c) => ({ ...c, notify: { ...c.notify, fromAddress: config.notify.fromAddress } }),
      ],
      ['ops.alarmEmails[0]', (c) => ({ ...c, ops: config.ops })],
      ['ci.githubOrg', (c) => ({ ...c, ci: config.ci })],
      ...(config.edge.hostedZoneId
        ? ([
            [
              'edge.hostedZoneId',
              (c) => ({ ...c, edge: { ...c.edge, hostedZoneId: config.edge.hostedZoneId } }),
            ],
            [
              'notify.hostedZoneId',
              (c) => ({ ...c, notify: { ...c.notify, hostedZoneId: config.notify.hostedZoneId } }),
            ],
          ] as [string, (c: PlatformConfig) => PlatformConfig][])
        : ([
            [
              'edge.certificateArn',
              (c) => ({ ...c, edge: { ...c.edge, certificateArn: config.edge.certificateArn } }),
            ],
          ] as [string, (c: PlatformConfig) => PlatformConfig][])),
    ]
    t.same(examples.map(([field]) => field).sort(), [...fields].sort(), 'each one tried')
    for (const [field, putBack] of examples) {
      const refusal = placeholderRefusal([putBack(real)]) ?? ''
      t.same(
        [...refusal.matchAll(/^ {2}- (\S+) \(/gm)].map((m) => m[1]),
        [field],
        `${config.profile}: ${field} named`,
      )
    }
  }
})

/** `2026-12-07T16:41:47+09:00`: an instant as a profile writes it, in Korean time. */
const kst = (ms: number) =>
  new Date(Math.floor(ms / 1000) * 1000 + 9 * 3_600_000).toISOString().replace('.000Z', '+09:00')

t.test('the service started as an instance starts it answers by the calendar', async (t) => {
  // A calendar around this test's own clock: year 4 opened an hour ago, everyone else opens in
  // an hour, and it closes in two days. The backup windows move half a day from this hour, the
  // maintenance windows three days and a half away.
  const now = Date.now()
  const hour = 3_600_000
  const calendar = {
    opensAt: kst(now + hour),
    opensAtByYear: { 4: kst(now - hour) },
    closesAt: kst(now + 48 * hour),
  }
  const later = new Date(now + 84 * hour)
  const day = DAYS[later.getUTCDay()]!
  const at = (offset: number) => String((later.getUTCHours() + offset) % 24).padStart(2, '0')
  const config: PlatformConfig = {
    ...profiles.ha,
    registration: calendar,
    compute: {
      ...profiles.ha.compute,
      rush: { ...profiles.ha.compute.rush, scheduleAfter: new Date(now).toISOString() },
    },
    database: {
      ...profiles.ha.database,
      backupWindow: `${at(0)}:00-${at(0)}:30`,
      maintenanceWindow: `${day}:${at(1)}:00-${day}:${at(1)}:30`,
    },
    cache: {
      ...profiles.ha.cache,
      snapshotWindow: `${at(0)}:00-${at(0)}:30`,
      maintenanceWindow: `${day}:${at(2)}:00-${day}:${at(2)}:30`,
    },
  }
  const app = synthPlatform(config).app
  // Synthesized within the rush and the reservation's span: both follow the same calendar.
  t.equal(only(app, 'aws_autoscaling_group').min_size, config.compute.rush.instances)
  t.same(only(app, 'aws_lb').minimum_load_balancer_capacity, {
    capacity_units: config.edge.capacityReservation!.capacityUnits,
  })

  const settings = envFileSettings(app)
  const registration = Object.fromEntries(
    Object.entries(settings).filter(([name]) => name.startsWith('REGISTRATION_')),
  )
  t.same(Object.keys(registration).sort(), [
    'REGISTRATION_CLOSES_AT',
    'REGISTRATION_OPENS_AT',
    'REGISTRATION_OPENS_AT_BY_YEAR',
  ])
  // The embedded store stands in for MySQL and Redis, so not NODE_ENV=production; the window is
  // exactly what the env file says.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sugang-relations-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const port = await freePort()
  const child = spawn(process.execPath, ['bin/sugang.js', 'serve'], {
    cwd: SERVICE_DIR,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? dir,
      ...registration,
      HOST: '127.0.0.1',
      PORT: String(port),
      METRICS_PORT: '0',
      SQLITE_PATH: path.join(dir, 'sugang.sqlite'),
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  t.teardown(async () => {
    child.kill('SIGTERM')
    await exited
  })
  const base = `http://127.0.0.1:${port}`
  for (let ready = false; !ready;) {
    if (child.exitCode !== null) throw new Error(`the service exited ${child.exitCode}`)
    ready = await fetch(`${base}/health/ready`).then(
      (r) => r.ok,
      () => false,
    )
    if (!ready) await new Promise((resolve) => setTimeout(resolve, 100))
  }

  // A freshly started instance may still be catching its breath (a 503 with Retry-After from its
  // overload guard): like the page, wait what it asks, a bounded number of times.
  const ask = async (url: string, init?: RequestInit): Promise<Response> => {
    for (let attempt = 1; ; attempt += 1) {
      const res = await fetch(url, init)
      const retryAfter = res.headers.get('retry-after')
      const wait = retryAfterMs(res.status, retryAfter === null ? null : Number(retryAfter))
      if (wait === null || attempt === 20) return res
      await new Promise((resolve) => setTimeout(resolve, wait))
    }
  }
  const students = new Map<number, { cookie: string; me: Body }>()
  for (let n = 1; n <= 40 && !(students.has(4) && students.size > 1); n += 1) {
    const studentId = `S${String(n).padStart(6, '0')}`
    const login = await ask(`${base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ studentId, password: 'sugang-demo' }),
    })
    t.equal(login.status, 200, `${studentId} logs in`)
    const cookie = login.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ')
    const me = (await (await ask(`${base}/api/v1/me`, { headers: { cookie } })).json()) as Body
    if (!students.has(me.year)) students.set(me.year, { cookie, me })
  }
  const senior = students.get(4)!
  const other = [...students.entries()].find(([year]) => year !== 4)![1]
  t.ok(senior && other, 'a year-4 student and another')

  t.equal(instant(senior.me.registration.opensAt), instant(calendar.opensAtByYear[4]))
  t.equal(instant(senior.me.registration.closesAt), instant(calendar.closesAt))
  t.equal(senior.me.registration.open, true, 'year 4 is open')
  t.equal(instant(other.me.registration.opensAt), instant(calendar.opensAt))
  t.equal(other.me.registration.open, false, 'the others wait')

  const catalogue = (await (
    await ask(`${base}/api/v1/courses`, { headers: { cookie: senior.cookie } })
  ).json()) as Body
  const course = (catalogue.courses as Body[]).find((c) => c.seatsLeft > 0)!.id
  const enqueue = (cookie: string) =>
    ask(`${base}/api/v1/courses/${course}/enrollment-requests`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json' },
      body: '{}',
    })
  const refused = await enqueue(other.cookie)
  t.equal(refused.status, 403)
  const { error } = (await refused.json()) as Body
  t.equal(error.code, 'REGISTRATION_CLOSED')
  t.equal(instant(error.opensAt), instant(calendar.opensAt), 'with the calendar’s opening')
  t.equal((await enqueue(senior.cookie)).status, 202, 'year 4 is queued')
})
