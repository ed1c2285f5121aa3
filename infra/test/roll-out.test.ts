// infra/scripts/roll-out.sh, the deploy and rollback step of the pipeline, run against stand-ins
// for the cdktf CLI, the AWS CLI and curl that answer like the real ones would.
import { execFile } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const script = fileURLToPath(new URL('../scripts/roll-out.sh', import.meta.url))
const DIGEST = `sha256:${'c0ffee00'.repeat(8)}`
const ASG = 'sugang-small-app'
const URL_ = 'https://sugang-small.example.ac.kr'
const HOST = 'sugang-small.example.ac.kr'
const ALB = 'sugang-small-alb-1234567890.ap-northeast-2.elb.amazonaws.com'

interface Scenario {
  /** What successive `describe-instance-refreshes` calls print (tab-separated, as --output text). */
  readonly refreshes?: string[]
  /** Status and body per path for curl. */
  readonly http?: Record<string, [number, string]>
  readonly env?: Record<string, string>
  readonly args?: string[]
  /** What the deploy freeze check prints and its exit code (default: not frozen). */
  readonly freeze?: [string, number]
  /**
   * Whether the app's name resolves to the load balancer. Default: it does not, as for `small`,
   * whose record is the adopter's to create.
   */
  readonly dns?: boolean
}

interface Outcome {
  readonly code: number
  readonly output: string
  /** Arguments and SUGANG_IMAGE_DIGEST each cdktf call received. */
  readonly cdktf: string
  /** Each curl call's arguments, one line each. */
  readonly curl: string
  readonly githubOutput: string
}

const iso = (offsetSeconds: number) => new Date(Date.now() + offsetSeconds * 1000).toISOString()
const refresh = (status: string, startOffset = 30, reason = 'None') =>
  ['r-1', status, iso(startOffset), status === 'Successful' ? '100' : '40', reason].join('\t')
const healthy: Record<string, [number, string]> = {
  '/health/ready': [200, '{"status":"ok"}'],
  '/api/v1/courses': [401, '{"error":{"code":"UNAUTHENTICATED","message":"Log in first"}}'],
}

function stub(dir: string, name: string, body: string) {
  const file = path.join(dir, name)
  writeFileSync(file, `#!/usr/bin/env bash\nset -euo pipefail\n${body}`)
  chmodSync(file, 0o755)
  return file
}

async function rollOut(scenario: Scenario): Promise<Outcome> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sugang-roll-out-'))
  const bin = path.join(dir, 'bin')
  mkdirSync(bin)
  writeFileSync(path.join(dir, 'refreshes'), (scenario.refreshes ?? []).join('\n') + '\n')
  writeFileSync(path.join(dir, 'http.json'), JSON.stringify(scenario.http ?? healthy))
  const cdktf = stub(
    dir,
    'cdktf',
    `echo "$* SUGANG_IMAGE_DIGEST=$SUGANG_IMAGE_DIGEST" >>"${dir}/cdktf.log"
while [ $# -gt 0 ]; do
  if [ "$1" = --outputs-file ]; then
    printf '{"${ASG}":{"autoscaling_group_name":"${ASG}","app_url":"${URL_}","alb_dns_name":"${ALB}"}}' >"$2"
  fi
  shift
done
`,
  )
  // Each describe-instance-refreshes prints the next line; the last one repeats.
  stub(
    bin,
    'aws',
    `[ "$1 $2" = "autoscaling describe-instance-refreshes" ] || { echo "unexpected aws $*" >&2; exit 2; }
lines=$(wc -l <"${dir}/refreshes")
head -n1 "${dir}/refreshes"
[ "$lines" -le 1 ] || sed -i 1d "${dir}/refreshes"
`,
  )
  // The load balancer answers for the app's name; the name itself resolves only with \`dns\`.
  stub(
    bin,
    'curl',
    `echo "$*" >>"${dir}/curl.log"
out=/dev/null; url=; via=
while [ $# -gt 0 ]; do
  case $1 in -o) out=$2; shift ;; --connect-to) via=$2; shift ;; http*) url=$1 ;; esac
  shift
done
if [ "$via" != "${HOST}:443:${ALB}:443" ] && [ "${scenario.dns ? 1 : 0}" = 0 ] && [[ $url == ${URL_}* ]]; then
  echo "curl: (6) Could not resolve host: ${HOST}" >&2
  printf 000
  exit 6
fi
node -e '
  const [file, url, out] = process.argv.slice(1)
  const routes = JSON.parse(require("node:fs").readFileSync(file, "utf8"))
  const [status, body] = routes[url.replace("${URL_}", "")] ?? [404, "not found"]
  require("node:fs").writeFileSync(out, body)
  console.log(status)
' "${dir}/http.json" "$url" "$out"
`,
  )
  const [freezeMessage, freezeCode] = scenario.freeze ?? ['no deploy freeze', 0]
  const freezeCheck = stub(
    dir,
    'freeze-check',
    `echo "$*" >"${dir}/freeze-check.log"\necho '${freezeMessage}'\nexit ${freezeCode}\n`,
  )
  writeFileSync(path.join(dir, 'github-output'), '')
  return await new Promise((resolve) => {
    execFile(
      'bash',
      [script, ...(scenario.args ?? [DIGEST, 'app', 'notify'])],
      {
        env: {
          PATH: `${bin}:${process.env.PATH}`,
          SUGANG_PROFILE: 'small',
          CDKTF: cdktf,
          FREEZE_CHECK: freezeCheck,
          POLL_SECONDS: '0',
          GITHUB_OUTPUT: path.join(dir, 'github-output'),
          ...scenario.env,
        },
      },
      (error, stdout, stderr) => {
        const read = (name: string) => {
          try {
            return readFileSync(path.join(dir, name), 'utf8')
          } catch {
            return ''
          }
        }
        resolve({
          code: error ? ((error as { code?: number }).code ?? 1) : 0,
          output: stdout + stderr,
          cdktf: read('cdktf.log'),
          curl: read('curl.log'),
          githubOutput: read('github-output'),
        })
      },
    )
  })
}

t.test('deploys by digest, waits for the refresh, then smoke-tests the app URL', async (t) => {
  const result = await rollOut({
    refreshes: [refresh('Pending'), refresh('InProgress'), refresh('Successful')],
  })
  t.equal(result.code, 0, 'exits 0', { output: result.output })
  t.match(
    result.cdktf,
    /^deploy sugang-small-app sugang-small-notify --auto-approve --ignore-missing-stack-dependencies --outputs-file \S+ SUGANG_IMAGE_DIGEST=sha256:(c0ffee00){8}\n$/,
  )
  t.match(result.output, 'refresh r-1: InProgress, 40% replaced')
  t.match(result.output, 'refresh r-1: Successful')
  t.match(result.output, 'GET /api/v1/courses: 401 UNAUTHENTICATED')
  t.match(result.output, `rolled out ${DIGEST}`)
  t.equal(result.githubOutput, `app-url=${URL_}\n`)
})

t.test(
  'the smoke test reaches the app’s name at its load balancer, whatever DNS says',
  async (t) => {
    const result = await rollOut({ refreshes: [refresh('Successful')], dns: false })
    t.equal(result.code, 0, 'exits 0 with no record for the name yet', { output: result.output })
    t.match(result.output, `smoke test through the load balancer ${ALB}: ${URL_}`)
    const calls = result.curl.trim().split('\n')
    t.equal(calls.length, 2, '/health/ready and /api/v1/courses')
    for (const call of calls) {
      t.match(call, `--connect-to ${HOST}:443:${ALB}:443 `, 'TLS and Host for the name, at the ALB')
      t.match(call, new RegExp(` ${URL_.replace(/[.]/g, '\\.')}/(health/ready|api/v1/courses)$`))
    }
  },
)

t.test('a refresh that failed or rolled back fails the roll-out', async (t) => {
  for (const status of ['RollbackSuccessful', 'Failed', 'Cancelled']) {
    const result = await rollOut({
      refreshes: [refresh('InProgress'), refresh(status, 30, 'instances failed health checks')],
    })
    t.not(result.code, 0, status)
    t.match(result.output, `instance refresh r-1 ended ${status}: instances failed health checks`)
    t.notMatch(result.output, 'rolled out')
  }
})

t.test('a refresh still running at the deadline fails the roll-out', async (t) => {
  const result = await rollOut({
    refreshes: [refresh('InProgress')],
    env: { REFRESH_TIMEOUT_SECONDS: '1', POLL_SECONDS: '1' },
  })
  t.not(result.code, 0)
  t.match(result.output, 'instance refresh r-1 still InProgress after 1s')
})

t.test(
  'an unchanged launch template (no new refresh) goes straight to the smoke test',
  async (t) => {
    const result = await rollOut({ refreshes: [refresh('Successful', -3600)] })
    t.equal(result.code, 0, 'exits 0', { output: result.output })
    t.match(result.output, 'no instance refresh started')
    t.match(result.output, `rolled out ${DIGEST}`)
  },
)

t.test('a refresh left running by an earlier run is waited for', async (t) => {
  const result = await rollOut({
    refreshes: [refresh('InProgress', -600), refresh('Successful', -600)],
  })
  t.equal(result.code, 0, 'exits 0', { output: result.output })
  t.match(result.output, 'refresh r-1: InProgress')
  t.match(result.output, 'no instance refresh started', 'the earlier refresh finished; ours none')
})

t.test('the smoke test fails unless the API refuses a request without a session', async (t) => {
  const open = await rollOut({
    refreshes: [refresh('Successful')],
    http: { ...healthy, '/api/v1/courses': [200, '{"courses":[]}'] },
  })
  t.not(open.code, 0)
  t.match(open.output, 'GET https://sugang-small.example.ac.kr/api/v1/courses answered 200')
  // A 401 from something in front of the service (not its error contract) is not the service.
  const foreign = await rollOut({
    refreshes: [refresh('Successful')],
    http: { ...healthy, '/api/v1/courses': [401, '<html>401 Authorization Required</html>'] },
  })
  t.not(foreign.code, 0)
  t.match(foreign.output, 'answered 401, not 401 UNAUTHENTICATED')
  const unready = await rollOut({
    refreshes: [refresh('Successful')],
    http: { ...healthy, '/health/ready': [503, '{}'] },
    env: { SMOKE_ATTEMPTS: '1' },
  })
  t.not(unready.code, 0)
  t.match(unready.output, '/health/ready answered 503')
})

t.test('APP_URL overrides the app_url output', async (t) => {
  const result = await rollOut({
    refreshes: [refresh('Successful')],
    env: { APP_URL: 'https://other.example.ac.kr/', SMOKE_ATTEMPTS: '1' },
  })
  // The stand-in curl only knows the output's host, so the override shows as a 404.
  t.not(result.code, 0)
  t.match(result.output, 'GET https://other.example.ac.kr/health/ready answered 404')
  t.notMatch(result.curl, '--connect-to', 'an explicit URL is asked as DNS has it')
})

t.test('a rollback of the app stack alone deploys that stack and waits for it', async (t) => {
  const result = await rollOut({ args: [DIGEST, 'app'], refreshes: [refresh('Successful')] })
  t.equal(result.code, 0, 'exits 0', { output: result.output })
  t.match(result.cdktf, /^deploy sugang-small-app --auto-approve/)
})

t.test('refuses anything but a digest and the app and notify stacks', async (t) => {
  for (const args of [['v1.2.3', 'app'], [DIGEST], [DIGEST, 'data']]) {
    const result = await rollOut({ args })
    t.not(result.code, 0, args.join(' '))
    t.equal(result.cdktf, '', 'nothing deployed')
  }
})

const FROZEN = 'deploys to small are frozen from 2027-02-08T00:00:00Z to 2027-02-08T03:00:00Z'

t.test('a deploy while registration is about to open or open is refused', async (t) => {
  const result = await rollOut({ refreshes: [refresh('Successful')], freeze: [FROZEN, 3] })
  t.not(result.code, 0)
  t.match(result.output, `${FROZEN}; set DEPLOY_FREEZE_OVERRIDE`)
  t.equal(result.cdktf, '', 'nothing deployed')
})

t.test('an override with a reason deploys through the freeze, and says so', async (t) => {
  const result = await rollOut({
    refreshes: [refresh('Successful')],
    freeze: [FROZEN, 3],
    env: { DEPLOY_FREEZE_OVERRIDE: 'hotfix for the login outage' },
  })
  t.equal(result.code, 0, 'exits 0', { output: result.output })
  t.match(
    result.output,
    `::warning::${FROZEN}; deploying all the same: hotfix for the login outage`,
  )
  t.match(result.cdktf, /^deploy sugang-small-app/)
})

t.test('a freeze check that cannot answer refuses the deploy', async (t) => {
  const result = await rollOut({ freeze: ['Cannot find module', 1] })
  t.not(result.code, 0)
  t.match(result.output, 'could not check the deploy freeze: Cannot find module')
  t.equal(result.cdktf, '', 'nothing deployed')
})
