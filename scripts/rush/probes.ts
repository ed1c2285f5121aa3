// What a run cost: CPU and memory of every process involved (read from /proc, so the processes
// need no cooperation), Redis commands (INFO commandstats) and MySQL statements (global status).
import { readFileSync } from 'node:fs'
import type { Redis } from 'ioredis'
import type { Connection, RowDataPacket } from 'mysql2/promise'

const TICKS_PER_SECOND = 100

export interface Watched {
  readonly name: string
  readonly pid: number
}

export interface ProcessCost {
  readonly name: string
  readonly cpuSeconds: number
  /** CPU time over wall time (1.0 = one core busy the whole time). */
  readonly cores: number
  readonly maxRssMiB: number
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return Number(fields[11]) + Number(fields[12])
}

function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const m = status.match(/^VmRSS:\s+(\d+) kB/m)
  return m ? Number(m[1]) : 0
}

/** Samples CPU and RSS of a set of processes from start() to stop(). */
export class ProcessMeter {
  readonly #watched: Watched[]
  readonly #start = new Map<number, number>()
  readonly #maxRss = new Map<number, number>()
  #timer: NodeJS.Timeout | undefined
  #t0 = 0

  constructor(watched: Watched[]) {
    this.#watched = watched
  }

  start(): void {
    this.#t0 = performance.now()
    for (const w of this.#watched) {
      this.#start.set(
        w.pid,
        safe(() => cpuTicks(w.pid)),
      )
      this.#maxRss.set(
        w.pid,
        safe(() => rssKiB(w.pid)),
      )
    }
    this.#timer = setInterval(() => {
      for (const w of this.#watched) {
        const rss = safe(() => rssKiB(w.pid))
        if (rss > (this.#maxRss.get(w.pid) ?? 0)) this.#maxRss.set(w.pid, rss)
      }
    }, 200)
  }

  stop(): ProcessCost[] {
    clearInterval(this.#timer)
    const wall = (performance.now() - this.#t0) / 1000
    // Our own process (the load generator) is measured the same way.
    return this.#watched.map((w) => {
      const cpu = (safe(() => cpuTicks(w.pid)) - (this.#start.get(w.pid) ?? 0)) / TICKS_PER_SECOND
      return {
        name: w.name,
        cpuSeconds: round(cpu, 2),
        cores: round(cpu / wall, 2),
        maxRssMiB: round((this.#maxRss.get(w.pid) ?? 0) / 1024, 1),
      }
    })
  }
}

function safe(read: () => number): number {
  try {
    return read()
  } catch {
    return 0 // the process is gone
  }
}

export const round = (x: number, digits: number): number => Number(x.toFixed(digits))

/** Counts of Redis commands by name (scripts' inner commands included) and script calls. */
export async function redisCommandStats(redis: Redis): Promise<Map<string, number>> {
  const info = await redis.info('commandstats')
  const counts = new Map<string, number>()
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) counts.set(m[1]!, Number(m[2]))
  return counts
}

export async function redisPid(redis: Redis): Promise<number> {
  const info = await redis.info('server')
  return Number(info.match(/^process_id:(\d+)/m)?.[1])
}

export interface RedisCost {
  /** Every command Redis ran, including those run inside Lua scripts. */
  readonly commands: number
  /** EVALSHA/EVAL calls: one round trip each. */
  readonly scriptCalls: number
  /** Commands sent directly (not counting those inside scripts); pipelines count each. */
  readonly byName: Record<string, number>
}

export function redisDelta(before: Map<string, number>, after: Map<string, number>): RedisCost {
  const byName: Record<string, number> = {}
  let commands = 0
  for (const [name, calls] of after) {
    const d = calls - (before.get(name) ?? 0)
    if (d <= 0 || name === 'info') continue
    byName[name] = d
    commands += d
  }
  const scriptCalls = (byName.evalsha ?? 0) + (byName.eval ?? 0)
  return { commands: commands - scriptCalls, scriptCalls, byName }
}

const MYSQL_COUNTERS = [
  'Questions',
  'Com_select',
  'Com_insert',
  'Com_update',
  'Com_delete',
  'Com_commit',
  'Innodb_row_lock_waits',
] as const

export type MysqlCounters = Record<(typeof MYSQL_COUNTERS)[number], number>

export async function mysqlCounters(db: Connection): Promise<MysqlCounters> {
  const [rows] = await db.query<RowDataPacket[]>(
    `SHOW GLOBAL STATUS WHERE Variable_name IN (${MYSQL_COUNTERS.map(() => '?').join(',')})`,
    [...MYSQL_COUNTERS],
  )
  const out = Object.fromEntries(MYSQL_COUNTERS.map((k) => [k, 0])) as MysqlCounters
  for (const r of rows) out[String(r.Variable_name) as keyof MysqlCounters] = Number(r.Value)
  return out
}

export function mysqlDelta(before: MysqlCounters, after: MysqlCounters): MysqlCounters {
  const out = { ...after }
  for (const k of MYSQL_COUNTERS) out[k] = after[k] - before[k]
  // The two SHOW GLOBAL STATUS statements of the probe itself.
  out.Questions -= 1
  return out
}

export async function mysqlPid(db: Connection): Promise<number> {
  const [rows] = await db.query<RowDataPacket[]>('SELECT @@pid_file AS f')
  try {
    return Number(readFileSync(String(rows[0]?.f), 'utf8').trim())
  } catch {
    return 0
  }
}
