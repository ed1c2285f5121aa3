// Shared by the load tests: start service processes, seed, log students in. Loopback only.
import { spawn, execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const root = fileURLToPath(new URL('../..', import.meta.url))
const cli = fileURLToPath(new URL('../../service/bin/sugang.js', import.meta.url))

export function mysqlExec(sql, url = 'mysql://root@127.0.0.1:3306') {
  const u = new URL(url)
  execFileSync('mariadb', [
    '--protocol=tcp',
    `-h${u.hostname}`,
    `-P${u.port || 3306}`,
    `-u${u.username}`,
    '-e',
    sql,
  ])
}

export function sugang(args, env) {
  execFileSync(process.execPath, [cli, ...args], {
    env: { ...process.env, ...env },
    stdio: 'inherit',
  })
}

/** Starts `sugang serve`; resolves once /health/ready answers 200. */
export async function startService(env) {
  const child = spawn(process.execPath, [cli, 'serve'], {
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  const base = `http://127.0.0.1:${env.PORT}`
  for (let i = 0; i < 200; i += 1) {
    const ok = await fetch(`${base}/health/ready`).then(
      (r) => r.ok,
      () => false,
    )
    if (ok) return { child, base, stop: () => stop(child) }
    await new Promise((r) => setTimeout(r, 100))
  }
  child.kill('SIGKILL')
  throw new Error(`service on ${base} did not become ready`)
}

function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve()
    child.once('exit', resolve)
    child.kill('SIGTERM')
    setTimeout(() => child.kill('SIGKILL'), 15_000).unref()
  })
}

/** Runs `work(i)` for i in [0, n) with at most `limit` in flight. */
export async function pool(n, limit, work) {
  const results = new Array(n)
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(limit, n) }, async () => {
      while (next < n) {
        const i = next++
        results[i] = await work(i)
      }
    }),
  )
  return results
}

export const studentId = (n) => `S${String(n).padStart(6, '0')}`

/** Logs students 1..n in (spread over the bases) and returns their cookie headers. */
export async function loginAll(bases, n, password) {
  return pool(n, 64, async (i) => {
    const res = await fetch(`${bases[i % bases.length]}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ studentId: studentId(i + 1), password }),
    })
    if (res.status !== 200) throw new Error(`login ${studentId(i + 1)}: ${res.status}`)
    const cookie = res.headers.get('set-cookie') ?? ''
    return cookie.split(';')[0]
  })
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

/**
 * Loads one of the service's public entry points (the exports of service/package.json, e.g.
 * `redis-keys`) from its TypeScript sources, the same way bin/sugang.js loads them.
 */
export async function serviceModule(entry) {
  const { tsImport } = await import('tsx/esm/api')
  return tsImport(`@sugang/service/${entry}`, import.meta.url)
}
