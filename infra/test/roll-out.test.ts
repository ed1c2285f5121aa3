// infra/scripts/roll-out.sh, the deploy and rollback step of the pipeline, run against stand-ins
// for the cdktf CLI, the AWS CLI and curl that answer like the real ones would; then the deploy
// job's own steps around it (.github/workflows/deploy.yml), from reading the released digest to
// the rollback, with the same stand-ins.
import { execFile } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import YAML from 'yaml'
import { runJobSteps, type JobRun, type WorkflowStep } from './helpers/workflow-steps.js'

const script = fileURLToPath(new URL('../scripts/roll-out.sh', import.meta.url))
const repoRoot = fileURLToPath(new URL('../..', import.meta.url))
const DIGEST = `sha256:${'c0ffee00'.repeat(8)}`
/** What /sugang-small/app/released-image holds before the deploy: the rollback target. */
const PREVIOUS = `sha256:${'ba5eba11'.repeat(8)}`
const ASG = 'sugang-small-app'
const URL_ = 'https://sugang-small.example.ac.kr'
const HOST = 'sugang-small.example.ac.kr'
const ALB = 'sugang-small-alb-1234567890.ap-northeast-2.elb.amazonaws.com'

type Answer = [number, string]

interface Scenario {
  /** What successive `describe-instance-refreshes` calls print (tab-separated, as --output text). */
  readonly refreshes?: string[]
  /** Status and body per path for curl; a list is answered in turn, its last answer repeating. */
  readonly http?: Record<string, Answer | Answer[]>
  /** The released-image parameter's value; unset: the parameter does not exist. */
  readonly released?: string
  /** `ssm put-parameter` is refused. */
  readonly recordFails?: boolean
  /** `cdktf deploy` with this digest fails, as an apply error would. */
  readonly cdktfFailsFor?: string
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
const healthy: Record<string, Answer> = {
  '/health/ready': [200, '{"status":"ok"}'],
  '/api/v1/courses': [401, '{"error":{"code":"UNAUTHENTICATED","message":"Log in first"}}'],
}

function stub(dir: string, name: string, body: string) {
  const file = path.join(dir, name)
  writeFileSync(file, `#!/usr/bin/env bash\nset -euo pipefail\n${body}`)
  chmodSync(file, 0o755)
  return file
}

interface StandIns {
  readonly dir: string
  readonly bin: string
  readonly cdktf: string
  readonly freezeCheck: string
}

/** Stand-ins for cdktf, the AWS CLI, curl and the freeze check, answering as the scenario says. */
function standIns(scenario: Scenario): StandIns {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sugang-roll-out-'))
  const bin = path.join(dir, 'bin')
  mkdirSync(bin)
  writeFileSync(path.join(dir, 'refreshes'), (scenario.refreshes ?? []).join('\n') + '\n')
  writeFileSync(path.join(dir, 'http.json'), JSON.stringify(scenario.http ?? healthy))
  if (scenario.released !== undefined) writeFileSync(path.join(dir, 'released'), scenario.released)
  const cdktf = stub(
    dir,
    'cdktf',
    `echo "$* SUGANG_IMAGE_DIGEST=$SUGANG_IMAGE_DIGEST" >>"${dir}/cdktf.log"
[ "$SUGANG_IMAGE_DIGEST" != "${scenario.cdktfFailsFor ?? 'none'}" ] ||
  { echo "Error: updating Auto Scaling Group: ValidationError" >&2; exit 1; }
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
    `case "$1 $2" in
  "autoscaling describe-instance-refreshes")
    lines=$(wc -l <"${dir}/refreshes")
    head -n1 "${dir}/refreshes"
    [ "$lines" -le 1 ] || sed -i 1d "${dir}/refreshes"
    ;;
  "ssm get-parameter")
    [ -f "${dir}/released" ] || {
      echo "An error occurred (ParameterNotFound) when calling the GetParameter operation: " >&2
      exit 254
    }
    cat "${dir}/released"; echo
    ;;
  "ssm put-parameter")
    ${scenario.recordFails ? 'echo "An error occurred (AccessDeniedException) when calling the PutParameter operation" >&2; exit 254' : `echo "$*" >>"${dir}/puts"`}
    ;;
  *) echo "unexpected aws $*" >&2; exit 2 ;;
esac
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
  const fs = require("node:fs")
  const [file, url, out] = process.argv.slice(1)
  const path = url.replace("${URL_}", "")
  const answers = JSON.parse(fs.readFileSync(file, "utf8"))[path] ?? [404, "not found"]
  let answer = answers
  if (Array.isArray(answers[0])) {
    const counter = file + "." + Buffer.from(path).toString("hex")
    const n = fs.existsSync(counter) ? Number(fs.readFileSync(counter, "utf8")) : 0
    fs.writeFileSync(counter, String(n + 1))
    answer = answers[Math.min(n, answers.length - 1)]
  }
  fs.writeFileSync(out, answer[1])
  console.log(answer[0])
' "${dir}/http.json" "$url" "$out"
`,
  )
  const [freezeMessage, freezeCode] = scenario.freeze ?? ['no deploy freeze', 0]
  const freezeCheck = stub(
    dir,
    'freeze-check',
    `echo "$*" >"${dir}/freeze-check.log"\necho '${freezeMessage}'\nexit ${freezeCode}\n`,
  )
  return { dir, bin, cdktf, freezeCheck }
}

function readIn(dir: string, name: string): string {
  const file = path.join(dir, name)
  return existsSync(file) ? readFileSync(file, 'utf8') : ''
}

async function rollOut(scenario: Scenario): Promise<Outcome> {
  const { dir, bin, cdktf, freezeCheck } = standIns(scenario)
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
        resolve({
          code: error ? ((error as { code?: number }).code ?? 1) : 0,
          output: stdout + stderr,
          cdktf: readIn(dir, 'cdktf.log'),
          curl: readIn(dir, 'curl.log'),
          githubOutput: readIn(dir, 'github-output'),
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

// --- the deploy job around the roll-out -------------------------------------------------------

const workflow = YAML.parse(
  readFileSync(path.join(repoRoot, '.github/workflows/deploy.yml'), 'utf8'),
) as { jobs: { deploy: { env: Record<string, string>; steps: WorkflowStep[] } } }
const deployJob = workflow.jobs.deploy
const RELEASED = 'Read the released image (the rollback target)'
const DEPLOY = 'Deploy, wait for the instance refresh, smoke-test'
const RECORD = 'Record the released image'
const RENEW = 'Renew the AWS credentials for the rollback'
const ROLLBACK = 'Roll back to the released image'

interface JobOutcome {
  readonly run: JobRun
  /** The steps that ran (not skipped), by name. */
  readonly ran: string[]
  readonly outcome: (name: string) => string
  /** Arguments and SUGANG_IMAGE_DIGEST of each cdktf call. */
  readonly cdktf: string[]
  /** Each `ssm put-parameter` call. */
  readonly recorded: string
}

/**
 * The deploy job from reading the released digest on, as GitHub runs it after the image was built
 * and passed the gate (steps.image: this commit's digest), against the stand-ins.
 */
async function deploy(
  scenario: Scenario & { inputs?: Record<string, string | boolean> },
): Promise<JobOutcome> {
  const standins = standIns({ dns: true, ...scenario })
  const steps = deployJob.steps.slice(deployJob.steps.findIndex((s) => s.name === RELEASED))
  const run = await runJobSteps(steps, {
    jobEnv: deployJob.env,
    contexts: {
      vars: { AWS_REGION: 'ap-northeast-2', SUGANG_PROFILE: 'small' },
      inputs: scenario.inputs ?? {},
      github: {
        event: { workflow_run: { head_sha: 'c0ffee'.padEnd(40, '0') } },
        sha: 'c0ffee'.padEnd(40, '0'),
        run_id: '1',
      },
    },
    earlier: {
      image: {
        outcome: 'success',
        outputs: { digest: DIGEST, repository: 'sugang-small/service' },
      },
    },
    env: {
      PATH: `${standins.bin}:${process.env.PATH}`,
      HOME: process.env.HOME ?? os.tmpdir(),
      CDKTF: standins.cdktf,
      FREEZE_CHECK: standins.freezeCheck,
      POLL_SECONDS: '0',
      // One try of /health/ready: no 6-s pauses between attempts in a test.
      SMOKE_ATTEMPTS: '1',
    },
    cwd: repoRoot,
  })
  const byName = new Map(run.steps.map((s) => [s.name, s]))
  return {
    run,
    ran: run.steps.filter((s) => s.outcome !== 'skipped').map((s) => s.name),
    outcome: (name) => byName.get(name)?.outcome ?? 'absent',
    cdktf: readIn(standins.dir, 'cdktf.log').trim().split('\n').filter(Boolean),
    recorded: readIn(standins.dir, 'puts'),
  }
}

const deployed = (digest: string, stacks: string) =>
  new RegExp(
    `^deploy ${stacks} --auto-approve --ignore-missing-stack-dependencies --outputs-file \\S+ SUGANG_IMAGE_DIGEST=${digest}$`,
  )
const brokenApi: Record<string, Answer | Answer[]> = {
  ...healthy,
  // The release answers without a session; the released image, deployed again, does not.
  '/api/v1/courses': [[200, '{"courses":[]}'], healthy['/api/v1/courses']!],
}

t.test('a release that passes its smoke test is recorded and nothing is rolled back', async (t) => {
  const job = await deploy({ released: PREVIOUS, refreshes: [refresh('Successful')] })
  t.equal(job.run.status, 'success', 'the run passes', { steps: job.run.steps })
  t.same(job.ran, [RELEASED, DEPLOY, RECORD])
  t.equal(job.cdktf.length, 1)
  t.match(job.cdktf[0], deployed(DIGEST, 'sugang-small-app sugang-small-notify'))
  t.match(
    job.recorded,
    `ssm put-parameter --name /sugang-small/app/released-image --value ${DIGEST} --overwrite`,
  )
  t.match(job.run.summary, `released: \`${DIGEST}\``)
})

t.test(
  'a failed smoke test rolls the app back to the released digest; the run fails',
  async (t) => {
    const job = await deploy({
      released: PREVIOUS,
      refreshes: [refresh('Successful')],
      http: brokenApi,
    })
    t.equal(job.run.status, 'failure', 'the run stays failed')
    t.equal(job.outcome(DEPLOY), 'failure')
    t.equal(job.outcome(RECORD), 'skipped', 'the failed release is not recorded')
    t.equal(job.outcome(RENEW), 'success', 'fresh credentials first')
    t.equal(job.outcome(ROLLBACK), 'success', 'the rollback itself passes its smoke test')
    t.equal(job.cdktf.length, 2)
    t.match(job.cdktf[0], deployed(DIGEST, 'sugang-small-app sugang-small-notify'))
    t.match(job.cdktf[1], deployed(PREVIOUS, 'sugang-small-app'), 'the app stack, released digest')
    t.equal(job.recorded, '', 'the released digest stays what it was')
    t.match(job.run.summary, `rolled back to \`${PREVIOUS}\``)
  },
)

t.test('a failed instance refresh rolls back the same way', async (t) => {
  const job = await deploy({
    released: PREVIOUS,
    // The release's refresh fails; the rollback's succeeds.
    refreshes: [
      refresh('InProgress'),
      refresh('Failed', 30, 'instances failed to launch'),
      refresh('Successful'),
    ],
  })
  t.equal(job.run.status, 'failure')
  t.match(
    job.run.steps.find((s) => s.name === DEPLOY)!.output,
    'ended Failed: instances failed to launch',
  )
  t.equal(job.outcome(ROLLBACK), 'success')
  t.match(job.cdktf[1], deployed(PREVIOUS, 'sugang-small-app'))
})

t.test('a deploy Terraform fails, or a release it cannot record, rolls back', async (t) => {
  const failedApply = await deploy({
    released: PREVIOUS,
    refreshes: [refresh('Successful')],
    cdktfFailsFor: DIGEST,
  })
  t.equal(failedApply.outcome(ROLLBACK), 'success', 'after an apply error')
  t.match(failedApply.cdktf[1], deployed(PREVIOUS, 'sugang-small-app'))
  const unrecorded = await deploy({
    released: PREVIOUS,
    refreshes: [refresh('Successful')],
    recordFails: true,
  })
  t.equal(unrecorded.outcome(DEPLOY), 'success')
  t.equal(unrecorded.outcome(RECORD), 'failure')
  t.equal(unrecorded.outcome(ROLLBACK), 'success', 'after a release that was not recorded')
  t.match(unrecorded.cdktf[1], deployed(PREVIOUS, 'sugang-small-app'))
  t.equal(unrecorded.run.status, 'failure')
})

t.test('nothing to roll back to: no released digest, or the same digest again', async (t) => {
  const first = await deploy({
    released: 'none',
    refreshes: [refresh('Successful')],
    http: brokenApi,
  })
  t.match(first.run.steps[0]!.output, '::warning::no image released yet (none)')
  t.equal(first.outcome(DEPLOY), 'failure')
  t.equal(first.outcome(ROLLBACK), 'skipped')
  t.equal(first.cdktf.length, 1, 'deployed once, not again')
  t.equal(first.run.status, 'failure')
  const again = await deploy({
    released: DIGEST,
    refreshes: [refresh('Successful')],
    http: brokenApi,
  })
  t.equal(
    again.outcome(ROLLBACK),
    'skipped',
    'a re-run of the released image is not rolled back to itself',
  )
  t.equal(again.cdktf.length, 1)
  const unread = await deploy({ refreshes: [refresh('Successful')] })
  t.match(unread.run.steps[0]!.output, 'no released-image parameter')
  t.same(unread.ran, [RELEASED], 'no parameter: nothing deployed, nothing rolled back')
  t.same(unread.cdktf, [])
})

t.test('an image-only run deploys nothing and rolls nothing back', async (t) => {
  const job = await deploy({ released: PREVIOUS, inputs: { 'image-only': true } })
  t.same(job.ran, [])
  t.equal(job.run.status, 'success')
  t.same(job.cdktf, [])
})
