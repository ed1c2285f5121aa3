// The monitoring host's view of Redis and MySQL: the exporters it runs, the target writer that
// tells Prometheus where they are, and the MySQL user they connect as.
import { spawnSync } from 'node:child_process'
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import type { Test } from 'tap'
import { parse } from 'yaml'
import { profiles } from '../src/config/index.js'
import type { PlatformConfig } from '../src/config/types.js'
import { memberSuffixes } from '../src/constructs/cache.js'
import {
  EXPORTER_PORTS,
  IAM_AUTHENTICATION,
  MONITORING_DATABASE_USER,
  monitoringDatabaseUserSql,
  monitoringTargetsScript,
} from '../src/constructs/monitoring-exporters.js'
import { MONITORING_SCHEDULE_DIR } from '../src/constructs/monitoring-host.js'
import { only, synthPlatform } from './helpers/synth.js'

const repoRoot = new URL('../../', import.meta.url)
const configs = [profiles.small, profiles.ha]
const userDataOf = (config: PlatformConfig) =>
  only(synthPlatform(config).app, 'aws_instance').user_data as string
const scripts = new Map(configs.map((c) => [c.profile, userDataOf(c)]))

/** The `docker run` arguments of each container the user data starts, by container name. */
function containers(script: string): Map<string, string> {
  const runs = [...script.matchAll(/^ExecStart=\/usr\/bin\/docker run --rm --name (\S+) (.*)$/gm)]
  return new Map(runs.map((m) => [m[1]!, m[2]!]))
}

function enabledUnits(script: string): string[] {
  return [...script.matchAll(/^systemctl enable --now (.*)$/gm)].flatMap((m) => m[1]!.split(' '))
}

function unitFile(script: string, name: string): string {
  const start = script.indexOf(`cat >/etc/systemd/system/${name} <<'UNIT'\n`)
  if (start < 0) return ''
  const body = script.slice(start)
  return body.slice(body.indexOf('\n') + 1, body.indexOf('\nUNIT\n'))
}

t.test(
  'the host runs one Redis exporter and a MySQL exporter per instance, on loopback',
  async (t) => {
    for (const config of configs) {
      const script = scripts.get(config.profile)!
      const run = containers(script)
      const mysqld = config.database.replicaInstanceClass
        ? ['mysqld-exporter-primary', 'mysqld-exporter-replica']
        : ['mysqld-exporter-primary']
      t.same(
        [...run.keys()].filter((name) => /exporter/.test(name)).sort(),
        ['redis-exporter', ...mysqld].sort(),
        `${config.profile}: the exporters`,
      )
      for (const name of ['redis-exporter', ...mysqld]) {
        t.ok(enabledUnits(script).includes(`${name}.service`), `${name} starts at boot`)
        t.match(run.get(name), /^--net host /, `${name} shares the host's loopback`)
      }

      const redis = run.get('redis-exporter')!
      t.match(redis, ` ${config.monitoring.redisExporterImage} `)
      t.match(redis, `--web.listen-address=127.0.0.1:${EXPORTER_PORTS.redis}`)
      t.match(redis, '-v /etc/sugang-monitoring/redis-exporter:/run/secrets/redis:ro ')
      t.match(redis, '--redis.password-file=/run/secrets/redis/passwords.json')
      t.notMatch(redis, /--redis\.password[= ]/, 'no token on the command line')

      const ports = { primary: EXPORTER_PORTS.mysqlPrimary, replica: EXPORTER_PORTS.mysqlReplica }
      for (const name of mysqld) {
        const instance = name.replace('mysqld-exporter-', '') as 'primary' | 'replica'
        const args = run.get(name)!
        t.match(args, ` ${config.monitoring.mysqldExporterImage} `)
        t.match(args, `--web.listen-address=127.0.0.1:${ports[instance]}`)
        t.match(args, '-v /etc/sugang-monitoring/mysqld-exporter:/etc/mysqld-exporter:ro ')
        t.match(args, `--config.my-cnf=/etc/mysqld-exporter/${instance}.cnf`)
      }

      // Every listener of the host is on 127.0.0.1.
      for (const [name, args] of run) {
        for (const m of args.matchAll(/(?:listen-address|HTTP_ADDR)[= ](\S+)/g)) {
          t.match(m[1], /^127\.0\.0\.1(:|$)/, `${name} listens on loopback`)
        }
      }
    }
  },
)

t.test(
  'the AUTH token is read by ARN into a root-only file; the exporters own theirs',
  async (t) => {
    for (const config of configs) {
      const script = scripts.get(config.profile)!
      t.match(
        script,
        /--secret-id '\$\{data\.terraform_remote_state\.[^}]+redis_auth-token_[^}]+arn\}' \\\n {2}--query SecretString --output text >\/etc\/sugang-monitoring\/redis\/auth-token\.new\nchmod 0600 \/etc\/sugang-monitoring\/redis\/auth-token\.new\n/,
      )
      t.match(
        script,
        'install -d -m 0700 -o 0 -g 0 $(dirname /etc/sugang-monitoring/redis/auth-token)',
      )
      // The exporter images' users: 59000 (redis_exporter), nobody (mysqld_exporter).
      t.match(script, 'install -d -m 0750 -o 0 -g 59000 /etc/sugang-monitoring/redis-exporter')
      t.match(script, 'install -d -m 0750 -o 0 -g 65534 /etc/sugang-monitoring/mysqld-exporter')
      t.match(script, "'https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem'")
    }
  },
)

t.test('Prometheus reads the targets the writer writes, outside its synced config', async (t) => {
  for (const config of configs) {
    const script = scripts.get(config.profile)!
    const prometheus = containers(script).get('prometheus')!
    t.match(prometheus, '-v /opt/sugang-monitoring/prometheus:/etc/prometheus:ro ')
    t.match(prometheus, '-v /etc/sugang-monitoring/prometheus-targets:/etc/prometheus/targets:ro ')
    t.match(
      script,
      /install -d [^\n]*\/opt\/sugang-monitoring\/prometheus\/targets\n/,
      'mount point',
    )
  }
  // Whatever prometheus.yml reads from targets/ is what the writer writes, and its exporter
  // addresses are the exporters'.
  const prometheusYml = readFileSync(
    new URL('monitoring/prometheus/prometheus.yml', repoRoot),
    'utf8',
  )
  const jobs = (parse(prometheusYml).scrape_configs ?? []) as {
    job_name: string
    file_sd_configs?: { files: string[] }[]
    relabel_configs?: { target_label?: string; replacement?: string }[]
  }[]
  const read: string[] = []
  for (const job of jobs) {
    for (const file of (job.file_sd_configs ?? []).flatMap((c) => c.files)) {
      // Relative to the config file's directory, /etc/prometheus in the container.
      const resolved = path.posix.resolve('/etc/prometheus', file)
      if (resolved.startsWith('/etc/prometheus/targets/')) read.push(path.posix.basename(resolved))
    }
    for (const rule of job.relabel_configs ?? []) {
      if (rule.target_label === '__address__' && rule.replacement?.startsWith('127.0.0.1:')) {
        t.equal(rule.replacement, `127.0.0.1:${EXPORTER_PORTS.redis}`, job.job_name)
      }
    }
  }
  t.same(read.sort(), ['mysql.json', 'redis.json'], 'the redis and mysql jobs read the two files')
})

t.test('the target writer runs every minute and at boot, before the exporters', async (t) => {
  for (const config of configs) {
    const script = scripts.get(config.profile)!
    const timer = unitFile(script, 'sugang-monitoring-targets.timer')
    t.match(timer, /^OnBootSec=0$/m)
    t.match(timer, /^OnUnitActiveSec=1min$/m)
    t.ok(enabledUnits(script).includes('sugang-monitoring-targets.timer'))
    t.match(
      unitFile(script, 'sugang-monitoring-targets.service'),
      /^ExecStart=\/usr\/local\/bin\/sugang-monitoring-targets$/m,
    )
    for (const name of ['redis-exporter', 'mysqld-exporter-primary']) {
      const unit = unitFile(script, `${name}.service`)
      t.match(unit, /^After=.*sugang-monitoring-targets\.service/m, name)
      t.match(unit, /^Wants=sugang-monitoring-targets\.service$/m, name)
    }
    t.match(script, "cat >/usr/local/bin/sugang-monitoring-targets <<'SCRIPT'\n#!/bin/bash\n")
    t.match(script, /chmod 0700 \/usr\/local\/bin\/sugang-monitoring-targets\n/)
    t.match(
      script,
      new RegExp(
        `REPLICA_HOST='${config.database.replicaInstanceClass ? '\\$\\{[^}]+replica[^}]+address\\}' : ''}'\n`,
      ),
      'the replica, when there is one',
    )
  }
})

interface Run {
  readonly status: number | null
  readonly stderr: string
  readonly calls: string[]
  readonly curls: string[]
}

/** A host of the writer's own: its directories under a temp dir, and stand-ins for aws and curl. */
function host(t: Test, replicaHost: string) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sugang-targets-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const paths = {
    targets: path.join(dir, 'targets'),
    redisToken: path.join(dir, 'redis', 'auth-token'),
    redisExporter: path.join(dir, 'redis-exporter'),
    mysqldExporter: path.join(dir, 'mysqld-exporter'),
  }
  for (const d of [
    paths.targets,
    path.dirname(paths.redisToken),
    paths.redisExporter,
    paths.mysqldExporter,
  ]) {
    mkdirSync(d, { recursive: true })
  }
  writeFileSync(paths.redisToken, 'tok3n\n', { mode: 0o600 })
  const bin = path.join(dir, 'bin')
  mkdirSync(bin)
  const group = path.join(dir, 'replication-group.json')
  // The AWS CLI: the replication group from a file (absent: the call fails), a cache cluster's
  // address, and a token that names the host it was signed for.
  writeFileSync(
    path.join(bin, 'aws'),
    `#!/bin/bash
echo "$*" >>'${dir}/calls'
case "$1 $2" in
  'elasticache describe-replication-groups') cat '${group}' ;;
  'elasticache describe-cache-clusters') echo "$6.abc123.apn2.cache.amazonaws.com" ;;
  'rds generate-db-auth-token') echo "$6:3306/?Action=connect&DBUser=\${10}&X-Amz-Signature=s1gn" ;;
  *) exit 2 ;;
esac
`,
  )
  // curl: reloads answer ok; a scrape through the Redis exporter reports node 001 of each shard
  // as the master.
  writeFileSync(
    path.join(bin, 'curl'),
    `#!/bin/bash
echo "$*" >>'${dir}/curls'
for arg in "$@"; do
  case $arg in
    *scrape?target=*-001.*) echo 'redis_instance_info{maxmemory_policy="noeviction",role="master",tcp_port="6379"} 1' ;;
    *scrape?target=*) echo 'redis_instance_info{maxmemory_policy="noeviction",role="slave",tcp_port="6379"} 1' ;;
  esac
done
`,
  )
  chmodSync(path.join(bin, 'aws'), 0o755)
  chmodSync(path.join(bin, 'curl'), 0o755)
  const writer = path.join(dir, 'sugang-monitoring-targets')
  const gid = process.getgid?.() ?? 0
  writeFileSync(
    writer,
    monitoringTargetsScript({
      region: 'ap-northeast-2',
      replicationGroupId: 'sugang-test-redis',
      primaryHost: 'primary.db.example',
      replicaHost,
      paths,
      groups: { redis: gid, mysqld: gid },
    }),
  )
  const run = (): Run => {
    for (const f of ['calls', 'curls']) writeFileSync(path.join(dir, f), '')
    const result = spawnSync('bash', [writer], {
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
      encoding: 'utf8',
    })
    const lines = (f: string) => readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean)
    return {
      status: result.status,
      stderr: result.stderr,
      calls: lines('calls'),
      curls: lines('curls'),
    }
  }
  const json = (file: string) => JSON.parse(readFileSync(path.join(paths.targets, file), 'utf8'))
  return { dir, paths, group, run, json }
}

// describe-replication-groups as AWS answers it: with cluster mode disabled each member has its
// address and role, with cluster mode neither.
const member = (id: string, role?: string) => ({
  CacheClusterId: id,
  CacheNodeId: '0001',
  ...(role
    ? {
        ReadEndpoint: { Address: `${id}.abc123.ng.0001.apn2.cache.amazonaws.com`, Port: 6379 },
        CurrentRole: role,
      }
    : {}),
  PreferredAvailabilityZone: 'ap-northeast-2a',
})
const answer = (nodeGroups: unknown[]) =>
  JSON.stringify({
    ReplicationGroups: [{ ReplicationGroupId: 'sugang-test-redis', NodeGroups: nodeGroups }],
  })

t.test(
  'the writer: without cluster mode, the nodes AWS lists, and the primary alone',
  async (t) => {
    const h = host(t, '')
    writeFileSync(
      h.group,
      answer([
        {
          NodeGroupId: '0001',
          NodeGroupMembers: [
            member('sugang-test-redis-002', 'replica'),
            member('sugang-test-redis-001', 'primary'),
          ],
        },
      ]),
    )
    const run = h.run()
    t.equal(run.status, 0, run.stderr)
    const address = (id: string) => `rediss://${id}.abc123.ng.0001.apn2.cache.amazonaws.com:6379`
    t.same(h.json('redis.json'), [
      {
        targets: [address('sugang-test-redis-001')],
        labels: { node: 'sugang-test-redis-001', shard: '0001', role: 'primary' },
      },
      {
        targets: [address('sugang-test-redis-002')],
        labels: { node: 'sugang-test-redis-002', shard: '0001', role: 'replica' },
      },
    ])
    t.same(JSON.parse(readFileSync(path.join(h.paths.redisExporter, 'passwords.json'), 'utf8')), {
      [address('sugang-test-redis-001')]: 'tok3n',
      [address('sugang-test-redis-002')]: 'tok3n',
    })
    t.same(h.json('mysql.json'), [{ targets: ['127.0.0.1:9104'], labels: { instance: 'primary' } }])
    t.notOk(
      existsSync(path.join(h.paths.mysqldExporter, 'replica.cnf')),
      'no replica, no credentials',
    )
    t.equal(
      readFileSync(path.join(h.paths.mysqldExporter, 'primary.cnf'), 'utf8'),
      `[client]
user = ${MONITORING_DATABASE_USER}
password = primary.db.example:3306/?Action=connect&DBUser=${MONITORING_DATABASE_USER}&X-Amz-Signature=s1gn
host = primary.db.example
port = 3306
enable-cleartext-plugin = true
ssl-ca = /etc/mysqld-exporter/rds-ca.pem
`,
    )
    t.same(
      run.calls.sort(),
      [
        'elasticache describe-replication-groups --region ap-northeast-2 --replication-group-id sugang-test-redis --output json',
        `rds generate-db-auth-token --region ap-northeast-2 --hostname primary.db.example --port 3306 --username ${MONITORING_DATABASE_USER}`,
      ],
      'AWS reported the addresses and roles: nothing else is asked',
    )
    t.same(
      run.curls
        .filter((c) => c.includes('-X POST'))
        .map((c) => /:(\d+)\/-\/reload/.exec(c)?.[1])
        .sort(),
      ['9104', '9121'],
      'both exporters re-read their credentials',
    )
    // Credentials readable by the exporter's group alone; targets by all; nothing left half-written.
    for (const file of [
      path.join(h.paths.redisExporter, 'passwords.json'),
      path.join(h.paths.mysqldExporter, 'primary.cnf'),
    ]) {
      t.equal(statSync(file).mode & 0o777, 0o640, file)
    }
    t.equal(statSync(path.join(h.paths.targets, 'redis.json')).mode & 0o777, 0o644)
    for (const d of [h.paths.targets, h.paths.redisExporter, h.paths.mysqldExporter]) {
      t.same(
        readdirSync(d).filter((f) => f.startsWith('.')),
        [],
        `no temporary files in ${d}`,
      )
    }

    // Nothing changed: the Redis exporter is left alone; a new token reaches MySQL's every time.
    const again = h.run()
    t.equal(again.status, 0, again.stderr)
    t.same(
      again.curls.filter((c) => c.includes('-X POST')).map((c) => /:(\d+)\/-\/reload/.exec(c)?.[1]),
      ['9104'],
    )
  },
)

t.test(
  'the writer: with cluster mode, every shard, addresses per cluster and roles from the nodes',
  async (t) => {
    const h = host(t, 'replica.db.example')
    const topology = { clusterMode: 'enabled', shards: 3, replicasPerShard: 1 } as const
    const ids = memberSuffixes(topology).map((s) => `sugang-test-redis${s}`)
    writeFileSync(
      h.group,
      answer(
        [1, 2, 3].map((shard) => ({
          NodeGroupId: `000${shard}`,
          NodeGroupMembers: ids
            .filter((id) => id.includes(`-000${shard}-`))
            .map((id) => member(id)),
        })),
      ),
    )
    const run = h.run()
    t.equal(run.status, 0, run.stderr)
    const targets = h.json('redis.json') as { targets: string[]; labels: Record<string, string> }[]
    t.same(
      targets.map((target) => [
        target.targets[0],
        target.labels.node,
        target.labels.shard,
        target.labels.role,
      ]),
      ids.map((id) => [
        `rediss://${id}.abc123.apn2.cache.amazonaws.com:6379`,
        id,
        id.split('-').at(-2),
        id.endsWith('-001') ? 'primary' : 'replica',
      ]),
    )
    t.same(
      run.calls.filter((c) => c.includes('describe-cache-clusters')).map((c) => c.split(' ')[5]),
      ids,
      'one address per cache cluster',
    )
    t.same(h.json('mysql.json'), [
      { targets: ['127.0.0.1:9104'], labels: { instance: 'primary' } },
      { targets: ['127.0.0.1:9105'], labels: { instance: 'replica' } },
    ])
    t.match(
      readFileSync(path.join(h.paths.mysqldExporter, 'replica.cnf'), 'utf8'),
      /^host = replica\.db\.example$/m,
    )
  },
)

t.test(
  'the writer: a failed listing keeps the last Redis targets and still renews MySQL',
  async (t) => {
    const h = host(t, '')
    writeFileSync(
      h.group,
      answer([
        { NodeGroupId: '0001', NodeGroupMembers: [member('sugang-test-redis-001', 'primary')] },
      ]),
    )
    t.equal(h.run().status, 0)
    const before = readFileSync(path.join(h.paths.targets, 'redis.json'), 'utf8')
    rmSync(path.join(h.paths.mysqldExporter, 'primary.cnf'))
    rmSync(h.group)
    const failed = h.run()
    t.not(failed.status, 0, 'the run fails, so systemd shows it')
    t.match(failed.stderr, 'Redis targets not written')
    t.equal(readFileSync(path.join(h.paths.targets, 'redis.json'), 'utf8'), before)
    t.ok(existsSync(path.join(h.paths.mysqldExporter, 'primary.cnf')), 'MySQL credentials renewed')
    // And a group that lists no node writes no empty target list either.
    writeFileSync(h.group, answer([]))
    t.not(h.run().status, 0)
    t.equal(readFileSync(path.join(h.paths.targets, 'redis.json'), 'utf8'), before)
  },
)

/** The mysql client against the MariaDB of the test environment. */
function mysql(user: string, password: string, statement: string) {
  const result = spawnSync(
    'mysql',
    [
      '--protocol=TCP',
      '-h',
      '127.0.0.1',
      '-P',
      '3306',
      '-u',
      user,
      '--batch',
      '--skip-column-names',
      '-e',
      statement,
    ],
    { encoding: 'utf8', env: { ...process.env, MYSQL_PWD: password } },
  )
  if (result.error) throw result.error
  return { ok: result.status === 0, out: result.stdout.trim(), err: result.stderr.trim() }
}

t.test('the exporters’ MySQL user reads status and nothing of the data', async (t) => {
  const user = `sugang_monitor_t${process.pid}`
  const schema = `sugang_t${process.pid}`
  const password = 'Monitor-test-1'
  const root = (statement: string) => {
    const r = mysql('root', '', statement)
    if (!r.ok) throw new Error(`${statement}: ${r.err}`)
    return r.out
  }
  t.teardown(() => {
    mysql('root', '', `DROP USER IF EXISTS '${user}'@'%'; DROP DATABASE IF EXISTS ${schema}`)
  })
  root(`CREATE DATABASE ${schema}; CREATE TABLE ${schema}.students (id INT PRIMARY KEY)`)

  const sql = monitoringDatabaseUserSql(user)
  t.equal(sql.split(IAM_AUTHENTICATION).length, 2, 'the user authenticates with IAM tokens')
  // MariaDB has no AWSAuthenticationPlugin; everything else runs as written, twice (idempotent).
  const here = sql.replace(IAM_AUTHENTICATION, `IDENTIFIED BY '${password}'`)
  root(here)
  root(here)
  t.equal(
    root(`SELECT ssl_type, max_user_connections FROM mysql.user WHERE user = '${user}'`),
    'ANY\t5',
  )
  const grants = root(`SHOW GRANTS FOR '${user}'@'%'`)
    .split('\n')
    .map((g) => g.replace(/ IDENTIFIED BY .*| REQUIRE SSL.*| WITH .*/, ''))
    .sort()
  // MariaDB shows REPLICATION CLIENT as BINLOG MONITOR, its name there.
  t.same(grants, [
    `GRANT PROCESS, BINLOG MONITOR ON *.* TO \`${user}\`@\`%\``,
    `GRANT SELECT ON \`performance_schema\`.* TO \`${user}\`@\`%\``,
  ])

  // Without TLS in the test server, the user logs in here without it.
  root(`ALTER USER '${user}'@'%' REQUIRE NONE`)
  const as = (statement: string) => mysql(user, password, statement)
  t.ok(as("SHOW GLOBAL STATUS LIKE 'Innodb_row_lock_waits'").ok, 'global status')
  t.ok(as('SELECT COUNT(*) FROM information_schema.INNODB_CMP').ok, "InnoDB's tables (PROCESS)")
  t.ok(as('SELECT COUNT(*) FROM performance_schema.setup_instruments').ok, 'performance_schema')
  for (const refused of [
    `SELECT * FROM ${schema}.students`,
    `INSERT INTO ${schema}.students VALUES (1)`,
    `CREATE TABLE ${schema}.x (id INT)`,
    'SELECT * FROM mysql.user',
    `CREATE USER 'x${process.pid}'@'%'`,
  ]) {
    t.match(as(refused), { ok: false, err: /denied/ }, refused)
  }
})

t.test('infra/README.md gives the statements the tests run', async (t) => {
  const readme = readFileSync(new URL('infra/README.md', repoRoot), 'utf8')
  // In a list item's code block: indented by two spaces.
  const indented = monitoringDatabaseUserSql().replace(/^/gm, '  ')
  t.ok(readme.includes(`<<'SQL'\n${indented}\n  SQL\n`), 'the heredoc holds them')
})

t.test("Prometheus loads its profile's opening schedule, which the workspace holds", async (t) => {
  const prometheusYml = parse(
    readFileSync(new URL('monitoring/prometheus/prometheus.yml', repoRoot), 'utf8'),
  ) as { rule_files: string[] }
  t.ok(prometheusYml.rule_files.includes('schedule/*.yml'), 'prometheus.yml reads schedule/')
  for (const config of configs) {
    const script = scripts.get(config.profile)!
    const file = `monitoring/prometheus/schedules/${config.profile}.yml`
    t.ok(existsSync(new URL(file, repoRoot)), `${file} is in the workspace the bucket holds`)
    t.match(
      script,
      `install -m 0644 /opt/sugang-monitoring/prometheus/schedules/${config.profile}.yml ${MONITORING_SCHEDULE_DIR}/schedule.yml`,
      `${config.profile}: the config script copies its own profile's schedule`,
    )
    t.notMatch(
      script,
      `schedules/${config.profile === 'ha' ? 'small' : 'ha'}.yml`,
      `${config.profile}: and no other`,
    )
    t.match(
      containers(script).get('prometheus'),
      `-v ${MONITORING_SCHEDULE_DIR}:/etc/prometheus/schedule:ro`,
      `${config.profile}: mounted where prometheus.yml looks`,
    )
  }
})
