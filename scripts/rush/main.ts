// The rush benchmark: one scenario, sugang and the baselines side by side on the same machine and
// the same data, every request followed to its decision, every claim checked against MySQL.
//
//   npm run bench:rush -- --scenario opening [--instances 1,2,3] [--baselines naive,ten-per-second,bare]
//                         [--follow stream|poll|none] [--layout all|split]
//
// --layout: `all` (the default): each sugang instance is one process that takes requests and
// admits them. `split`: the instances are doors (SERVICE_ROLE=door) and one more process admits
// (SERVICE_ROLE=admission); the report costs each process apart.
//
//   npm run bench:rush -- --scenario opening --redis cluster [--follow none --baselines bare]
//
// --redis: where sugang keeps its queue. `single` (the default): the one Redis node. `cluster`:
// each sugang run twice, on the one node and then on the local Redis Cluster (3 primaries,
// started by scripts/redis-cluster-up.sh if it is down; BENCH_REDIS_CLUSTER_NODES names another),
// same build, same data and requests; the report adds each primary's CPU (INFO cpu over the
// measured window), its commands, the courses and requests whose keys it holds, and the ratios
// between the two.
//
//   npm run bench:rush -- --scenario login-storm [--login-window 90] [--students 240]
//
// login-storm: every student logs in during the window before the opening (arrivals rising to
// the end: the last third brings 70 %), the service at the production scrypt cost and the seeded
// hashes cheap, so each first login checks, pays the decoy and rehashes; the opening's requests
// follow at the window's end, a late student's as soon as they are in. It runs the plain opening
// on the same size first, for its first second without a storm.
//
// --follow: how each student follows a queued request to its decision. `stream` (the default):
// as the page does, one event stream per student (GET /me/events with their undecided requests,
// reopened when that set changes), polling only while a stream is refused or broken; sugang
// only, the naive baseline (which decides in its answer) is polled. `poll`: the page without its
// stream, GET /enrollment-requests/:id at 1 s, ×1.5, at most 10 s. `none` (alias --no-follow):
// the door alone, decisions timed on the server. Every open stream holds a descriptor in this
// process and in the service; streams beyond `ulimit -n` less the pool and a reserve (and beyond
// the proxy's connections) are not opened, their students poll (reported as deferred).
//
// Needs MariaDB on 127.0.0.1:3306 and Redis on 127.0.0.1:6379 (HAProxy for several instances).
// After each sugang run, the service's own `sugang audit fairness` (the build measured) checks
// the fairness record it wrote; a broken record is a violation like the others.
// Writes <out>/<scenario>-<time>.json and .md; exits 1 if any invariant broke.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import mysql from 'mysql2/promise'
import { Client, RouteStats } from './client.js'
import { FOLLOW_MODES, type FollowMode, followModeOf, ROUTES } from './driver.js'
import { summarizeFollowing } from './follow-report.js'
import { openFilesLimit, streamBudget } from './streams.js'
import { auditFairness, check, violations, type FairnessAudit } from './invariants.js'
import {
  mysqlCounters,
  mysqlDelta,
  mysqlPid,
  ProcessMeter,
  redisDelta,
  round,
  type MysqlCounters,
  type ProcessCost,
} from './probes.js'
import {
  ensureLocalCluster,
  REDIS_CLUSTER_NODES,
  REDIS_MODES,
  RedisProbe,
  shardCpu,
  spreadOver,
  type RedisMode,
  type RedisShards,
} from './redis-shards.js'
import {
  commit,
  machine,
  markdown,
  summarizeRoutes,
  type RunReport,
  type TargetResult,
} from './report.js'
import {
  runScenario,
  type ScenarioName,
  type ScenarioSize,
  scenarios,
  SCENARIOS,
} from './scenarios.js'
import { buildService, sugangCli } from './processes.js'
import { courseId } from './workload.js'
import {
  benchKeys,
  MYSQL_URL,
  REDIS_URL,
  seedSugang,
  startBaseline,
  SUGANG_DB,
  startSugang,
  type Target,
  type TargetKind,
  useServiceCli,
  LAYOUTS,
  type Layout,
} from './targets.js'

export interface BenchOptions {
  readonly scenario: ScenarioName
  readonly size: ScenarioSize
  /** sugang instance counts to run, e.g. [1, 2, 3]. */
  readonly instances: readonly number[]
  readonly baselines: ReadonlyArray<Exclude<TargetKind, 'sugang'>>
  readonly inFlight: number
  readonly deadlineMs: number
  /** How long the 10-per-second design is watched before its finish is projected. */
  readonly baselineWindowMs: number
  /** How students follow their queued requests: 'stream' (default), 'poll', 'none' (the door alone). */
  readonly follow?: FollowMode
  readonly command: string
  /** Runs a production build of the service (tsc) instead of its sources (the tests' way). */
  readonly compiled?: boolean
  /** Runs of sugang, one after another, each on fresh data (the baselines run once). */
  readonly repeat?: number
  /** How sugang's processes are laid out: all (default) or split (doors + one admission). */
  readonly layout?: Layout
  /**
   * Where sugang keeps its queue: 'single' (default), or 'cluster': each sugang run on the one
   * node and then on the Redis Cluster, each primary measured apart.
   */
  readonly redis?: RedisMode
  /** Progress lines (stderr by default). */
  readonly log?: (line: string) => void
}

const BASELINES = ['naive', 'ten-per-second', 'bare'] as const

/** A sugang run whose Redis is measured primary by primary (--redis cluster, both sides). */
interface ShardedRun {
  readonly redis: RedisMode
  /** The seeded courses' ids. */
  readonly courses: readonly string[]
}

async function runTarget(
  options: BenchOptions,
  start: () => Promise<Target>,
  log: (line: string) => void,
  audit: () => Promise<FairnessAudit>,
  sharded?: ShardedRun,
): Promise<TargetResult> {
  const { size } = options
  const target = await start()
  log(`${target.name}: ready`)
  const client = new Client(target.base, options.inFlight)
  const probe = await RedisProbe.open(sharded?.redis ?? 'single', REDIS_URL, REDIS_CLUSTER_NODES)
  const db = await mysql.createConnection({ uri: MYSQL_URL })
  let meterOf: () => ProcessMeter | undefined = () => undefined
  try {
    // Each course's slot, read before the window so that the reading costs the run nothing.
    const keys = sharded ? benchKeys(sharded.redis) : undefined
    const courseSlots = sharded
      ? await probe.slots(new Map(sharded.courses.map((id) => [id, keys!.course(id).queue])))
      : new Map<string, number>()
    const watched = [
      ...target.processes,
      ...(await probe.processes()),
      { name: 'mariadb', pid: await mysqlPid(db) },
      { name: 'load generator', pid: process.pid },
    ]
    let meter: ProcessMeter | undefined
    meterOf = () => meter
    let cpuBefore: Awaited<ReturnType<RedisProbe['cpu']>> | undefined
    let cpuAfter: Awaited<ReturnType<RedisProbe['cpu']>> | undefined
    let shardStatsBefore = new Map<string, Map<string, number>>()
    let shardStatsAfter = new Map<string, Map<string, number>>()
    let redisBefore = new Map<string, number>()
    let mysqlBefore: MysqlCounters | undefined
    let measuredAt = 0
    let processes: ProcessCost[] = []
    let redisCost = redisDelta(new Map(), new Map())
    let mysqlCost: MysqlCounters | undefined
    let routes: TargetResult['routes'] = {}
    let followStats = client.stats.follow
    let enqueues = 0
    const deadlineMs =
      target.kind === 'ten-per-second' ? options.baselineWindowMs : options.deadlineMs
    const phase = await runScenario(options.scenario, {
      target,
      client,
      size,
      inFlight: options.inFlight,
      deadlineMs,
      follow: options.follow ?? 'stream',
      measure: async () => {
        client.stats = new RouteStats()
        if (sharded) {
          shardStatsBefore = await probe.commandStatsByShard()
          redisBefore = sumStats(shardStatsBefore)
          cpuBefore = await probe.cpu()
        } else {
          redisBefore = await probe.commandStats()
        }
        mysqlBefore = await mysqlCounters(db)
        meter = new ProcessMeter(watched)
        meter.start()
        measuredAt = performance.now()
      },
      measured: async () => {
        processes = meter?.stop() ?? []
        if (sharded) {
          cpuAfter = await probe.cpu()
          shardStatsAfter = await probe.commandStatsByShard()
          redisCost = redisDelta(redisBefore, sumStats(shardStatsAfter))
        } else {
          redisCost = redisDelta(redisBefore, await probe.commandStats())
        }
        mysqlCost = mysqlDelta(mysqlBefore!, await mysqlCounters(db))
        routes = summarizeRoutes(client.stats)
        followStats = client.stats.follow
        enqueues = client.stats.count(ROUTES.enqueue)
      },
    })
    const state = await target.state()
    const measured = phase.tracked.filter((r) => r.firstSentAt >= measuredAt)
    // A loop, not Math.max(...spread): an opening of 100,000 students has 600,000 requests.
    const lastDecided = measured.reduce(
      (latest, r) => Math.max(latest, r.decidedAt ?? Infinity),
      phase.answeredAt,
    )
    const allDecided = Number.isFinite(lastDecided)
    const enrolledNow = measured.filter((r) => r.status === 'enrolled').length + phase.promoted
    const enrollments =
      target.kind === 'ten-per-second' || target.kind === 'bare'
        ? state.enrollments.length
        : enrolledNow
    let projected: number | null = null
    if (target.kind === 'ten-per-second') {
      // It decides 10 per course per second by design: what is still queued when the window
      // closes is decided at that pace, the longest queue last.
      const longest = (await target.longestQueue?.()) ?? 0
      projected = round((performance.now() - phase.t0) / 1000 + longest / 10, 0)
    }
    const decidedSeconds =
      target.kind === 'ten-per-second' ? null : allDecided ? (lastDecided - phase.t0) / 1000 : null
    const untilDecided = projected ?? decidedSeconds
    const answeredSeconds = (phase.answeredAt - phase.t0) / 1000
    // sugang's own audit of its fairness record, after the measured window (the baselines keep
    // no record).
    const fairness = target.kind === 'sugang' ? await audit() : undefined
    const invariants = check(phase.tracked, state, {
      mustDecide: target.kind === 'sugang' || target.kind === 'naive',
      checkPositions: target.kind === 'sugang',
      fairness,
    })
    let redisShards: RedisShards | undefined
    if (sharded && cpuBefore && cpuAfter) {
      const windowSeconds = (cpuAfter.at - cpuBefore.at) / 1000
      const requested = measured.map((r) => courseId(r.wish.course))
      const courses = spreadOver(sharded.courses, courseSlots, probe.ranges)
      const requests = spreadOver(requested, courseSlots, probe.ranges)
      const perCourse = new Map<string, number>()
      for (const id of requested) perCourse.set(id, (perCourse.get(id) ?? 0) + 1)
      let hottestCourse = { id: '', requests: 0 }
      for (const [id, n] of perCourse) {
        if (n > hottestCourse.requests) hottestCourse = { id, requests: n }
      }
      redisShards = {
        mode: sharded.redis,
        windowSeconds: round(windowSeconds, 3),
        shards: shardCpu(cpuBefore.seconds, cpuAfter.seconds, windowSeconds).map((cpu) => {
          const cost = redisDelta(
            shardStatsBefore.get(cpu.shard) ?? new Map(),
            shardStatsAfter.get(cpu.shard) ?? new Map(),
          )
          return {
            ...cpu,
            courses: courses.get(cpu.shard) ?? 0,
            requests: requests.get(cpu.shard) ?? 0,
            commands: cost.commands,
            scriptCalls: cost.scriptCalls,
          }
        }),
        hottestCourse,
      }
    }
    const outcomes: Record<string, number> = {}
    for (const r of measured) {
      const key = r.status === 'rejected' ? `rejected ${r.reason}` : (r.status ?? 'unanswered')
      outcomes[key] = (outcomes[key] ?? 0) + 1
    }
    const result: TargetResult = {
      target: target.name,
      kind: target.kind,
      instances: target.instances,
      requests: measured.length,
      answeredSeconds: round(answeredSeconds, 3),
      answeredPerSecond: round((enqueues || measured.length) / answeredSeconds, 0),
      decidedSeconds: decidedSeconds === null ? null : round(decidedSeconds, 3),
      serverDecidedSeconds:
        phase.serverDecidedAt === null ? null : round((phase.serverDecidedAt - phase.t0) / 1000, 3),
      outcomes,
      enrollments,
      enrollmentsPerSecond: untilDecided ? round(enrollments / untilDecided, 2) : null,
      routes,
      processes,
      following: summarizeFollowing(
        followModeOf(target.kind, options.follow ?? 'stream'),
        followStats,
        phase.t0,
        processes.filter((p) =>
          target.processes.some((t) => t.name === p.name && t.name !== 'haproxy'),
        ),
      ),
      ...(phase.firstSecond ? { firstSecond: phase.firstSecond } : {}),
      ...(phase.loginStorm ? { loginStorm: phase.loginStorm } : {}),
      ...(redisShards ? { redisShards } : {}),
      redis: {
        ...redisCost,
        perEnrollment: enrollments > 0 ? round(redisCost.commands / enrollments, 1) : null,
        perRequest: round(
          redisCost.commands / Math.max(1, measured.length + phase.statusChecks),
          2,
        ),
      },
      mysql: {
        ...mysqlCost!,
        statementsPerEnrollment:
          enrollments > 0 ? round(mysqlCost!.Questions / enrollments, 2) : null,
      },
      statusChecks: phase.statusChecks,
      cancels: phase.cancels,
      promoted: phase.promoted,
      projectedDecidedSeconds: projected,
      invariants,
      violations: violations(invariants),
    }
    log(
      `${target.name}: ${result.requests} requests answered in ${result.answeredSeconds} s ` +
        `(${result.answeredPerSecond}/s), decided in ${result.decidedSeconds ?? `≈${projected}`} s, ` +
        `${result.enrollments} enrolled, ${result.violations} violation(s)` +
        (invariants.fairness
          ? `, fairness record ${invariants.fairness.holds ? 'holds' : 'BROKEN'} ` +
            `(${invariants.fairness.entries} entries)`
          : '') +
        '; ' +
        `followed by ${result.following.mode}: ${followStats.events} events on ` +
        `${followStats.streamsOpened} streams, ${followStats.polls} polls`,
    )
    return result
  } finally {
    // A run that failed before its phase ended must not leave the sampler ticking.
    meterOf()?.stop()
    probe.close()
    await db.end()
    await client.close()
    await target.stop()
  }
}

/** Command counts of several nodes, summed by command name. */
function sumStats(byNode: ReadonlyMap<string, ReadonlyMap<string, number>>): Map<string, number> {
  const total = new Map<string, number>()
  for (const stats of byNode.values()) {
    for (const [name, calls] of stats) total.set(name, (total.get(name) ?? 0) + calls)
  }
  return total
}

const REDIS_LABELS: Record<RedisMode, (shards: number) => string> = {
  single: () => '1 Redis node',
  cluster: (shards) => `Redis Cluster, ${shards} shards`,
}

/** Runs one scenario against every target, in turn, each on freshly seeded data. */
export async function bench(options: BenchOptions): Promise<RunReport> {
  const log = options.log ?? ((line: string) => console.error(line))
  const scenario = scenarios[options.scenario]
  const startedAt = new Date().toISOString()
  // What is measured is what was built now, not whatever the tree holds at the end.
  const measuredCommit = commit()
  const results: TargetResult[] = []
  const students = options.size.students + options.size.joiners
  const seedSize = { ...options.size, students }
  let cli = sugangCli
  if (options.compiled) {
    log('building the service')
    cli = buildService()
    useServiceCli(cli)
  }
  // The fairness record is audited by the same build of the service that wrote it.
  const audit = () => auditFairness(cli, { DATABASE_URL: SUGANG_DB, REDIS_URL })
  if ((options.follow ?? 'stream') === 'stream') {
    log(
      `event streams: at most ${streamBudget(1, options.inFlight)} open at once ` +
        `(open files limit ${openFilesLimit()}; behind the proxy, fewer)`,
    )
  }
  // --redis cluster: every sugang run on the one node, then on the cluster.
  const sides: readonly RedisMode[] =
    options.redis === 'cluster' ? ['single', 'cluster'] : ['single']
  if (options.redis === 'cluster') ensureLocalCluster()
  const repeat = options.repeat ?? 1
  for (let run = 1; run <= repeat; run += 1) {
    for (const instances of options.instances) {
      if (options.redis === 'cluster') {
        for (const redis of sides) {
          log(
            `seeding ${students} students and ${options.size.courses} courses for sugang ×${instances} on ${redis === 'single' ? 'the Redis node' : 'the Redis Cluster'}`,
          )
          const data = seedSugang(seedSize, redis)
          const result = await runTarget(
            options,
            () =>
              startSugang(instances, students, {
                ...scenario.sugang,
                layout: options.layout,
                redis,
              }),
            log,
            audit,
            { redis, courses: data.courses.map((c) => c.id) },
          )
          const label = REDIS_LABELS[redis](result.redisShards?.shards.length ?? 1)
          const named = { ...result, target: `${result.target}, ${label}` }
          results.push(repeat > 1 ? { ...named, target: `${named.target}, run ${run}` } : named)
        }
        continue
      }
      log(
        `seeding ${students} students and ${options.size.courses} courses for sugang ×${instances}`,
      )
      if (scenario.control) {
        // The same size, data and wishes without what the scenario adds, for comparison.
        seedSugang(seedSize)
        const control = { ...options, scenario: scenario.control }
        const quiet = await runTarget(
          control,
          () => startSugang(instances, students, { layout: options.layout }),
          log,
          audit,
        )
        results.push({ ...quiet, target: `${quiet.target}, ${scenario.control} alone` })
      }
      seedSugang(seedSize)
      const result = await runTarget(
        options,
        () => startSugang(instances, students, { ...scenario.sugang, layout: options.layout }),
        log,
        audit,
      )
      results.push(repeat > 1 ? { ...result, target: `${result.target}, run ${run}` } : result)
    }
  }
  if (scenario.baselines) {
    for (const kind of options.baselines) {
      const data = seedSugang(seedSize)
      results.push(await runTarget(options, () => startBaseline(kind, data), log, audit))
    }
  }
  return {
    scenario: scenario.name,
    summary: scenario.summary,
    size: options.size,
    command: options.command,
    follow: options.follow ?? 'stream',
    layout: options.layout ?? 'all',
    startedAt,
    commit: measuredCommit,
    machine: machine(),
    inFlight: options.inFlight,
    ...(options.redis === 'cluster' ? { redis: 'cluster' as const } : {}),
    results,
  }
}

function list(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      scenario: { type: 'string' },
      instances: { type: 'string', default: '1' },
      baselines: { type: 'string', default: BASELINES.join(',') },
      small: { type: 'boolean', default: false },
      students: { type: 'string' },
      courses: { type: 'string' },
      'in-flight': { type: 'string', default: '256' },
      'deadline-seconds': { type: 'string', default: '180' },
      'baseline-window-seconds': { type: 'string', default: '20' },
      repeat: { type: 'string', default: '1' },
      layout: { type: 'string', default: 'all' },
      redis: { type: 'string', default: 'single' },
      follow: { type: 'string' },
      'no-follow': { type: 'boolean', default: false },
      'login-window': { type: 'string' },
      render: { type: 'string' },
      out: { type: 'string', default: 'bench-results' },
      help: { type: 'boolean', default: false },
    },
  })
  if (values.render) {
    // A report written earlier, as Markdown again (after a change of the page's layout).
    console.log(markdown(JSON.parse(readFileSync(values.render, 'utf8')) as RunReport))
    return 0
  }
  const name = values.scenario as ScenarioName | undefined
  if (values.help || !name || !SCENARIOS.includes(name)) {
    console.error(
      `Usage: npm run bench:rush -- --scenario <${SCENARIOS.join('|')}> [--instances 1,2,3]\n` +
        `  [--baselines ${BASELINES.join(',')}|none] [--small] [--students N] [--courses M]\n` +
        '  [--in-flight 256] [--deadline-seconds 180] [--baseline-window-seconds 20] [--repeat 1]\n' +
        '  [--follow stream|poll|none (how students follow their requests; default stream)]\n' +
        '  [--no-follow (= --follow none: answers only; decisions timed on the server)]\n' +
        '  [--login-window <seconds> (login-storm: the logins before the opening)]\n' +
        '  [--layout all|split (split: the instances are doors, one more process admits)]\n' +
        '  [--redis single|cluster (cluster: sugang on the one Redis node and on the Redis Cluster,\n' +
        '   side by side, each primary measured apart)]\n' +
        '  [--out bench-results]\n' +
        '       npm run bench:rush -- --render <report.json>   (its Markdown again)',
    )
    return values.help ? 0 : 2
  }
  const scenario = scenarios[name]
  let size: ScenarioSize = values.small ? scenario.small : scenario.full
  if (values.students) size = { ...size, students: Number(values.students) }
  if (values.courses) size = { ...size, courses: Number(values.courses) }
  if (values['login-window']) {
    const seconds = Number(values['login-window'])
    if (!(seconds >= 0)) throw new Error('--login-window must be a number of seconds')
    size = { ...size, loginWindowMs: seconds * 1000 }
  }
  const follow = (values['no-follow'] ? 'none' : (values.follow ?? 'stream')) as FollowMode
  if (
    !FOLLOW_MODES.includes(follow) ||
    (values['no-follow'] && (values.follow ?? 'none') !== 'none')
  ) {
    throw new Error(`--follow must be one of ${FOLLOW_MODES.join(', ')} (--no-follow is none)`)
  }
  // The command in the report says how students followed, even when the default was taken.
  const followArg = values.follow || values['no-follow'] ? [] : ['--follow', follow]
  const baselines = values.baselines === 'none' ? [] : list(values.baselines)
  for (const b of baselines) {
    if (!(BASELINES as readonly string[]).includes(b)) throw new Error(`unknown baseline ${b}`)
  }
  const layout = values.layout as Layout
  if (!LAYOUTS.includes(layout)) {
    throw new Error(`--layout must be ${LAYOUTS.join(' or ')}, got "${values.layout}"`)
  }
  const redis = values.redis as RedisMode
  if (!REDIS_MODES.includes(redis)) {
    throw new Error(`--redis must be ${REDIS_MODES.join(' or ')}, got "${values.redis}"`)
  }
  if (redis === 'cluster' && scenario.control) {
    throw new Error(`--redis cluster runs no control phase; ${name} has one`)
  }
  const report = await bench({
    scenario: name,
    size,
    instances: list(values.instances).map(Number),
    baselines: baselines as BenchOptions['baselines'],
    inFlight: Number(values['in-flight']),
    deadlineMs: Number(values['deadline-seconds']) * 1000,
    baselineWindowMs: Number(values['baseline-window-seconds']) * 1000,
    command: `npm run bench:rush -- ${[...argv, ...followArg].join(' ')}`,
    repeat: Number(values.repeat),
    follow,
    layout,
    redis,
    compiled: true,
  })
  mkdirSync(values.out, { recursive: true })
  const stem = join(values.out, `${name}-${report.startedAt.replace(/[:.]/g, '-')}`)
  writeFileSync(`${stem}.json`, JSON.stringify(report, null, 2) + '\n')
  const page = markdown(report)
  writeFileSync(`${stem}.md`, page)
  console.log(page)
  console.error(`report written to ${stem}.json and ${stem}.md`)
  const broken = report.results.reduce((sum, r) => sum + r.violations, 0)
  if (broken > 0) console.error(`${broken} invariant violation(s)`)
  return broken > 0 ? 1 : 0
}
