// The service's admin listener (operator controls: pause, throttle, the window, announcements)
// is for operators on an instance, never for the internet: no security group, load balancer or
// published port of either profile may carry its port, and the operators' ADMIN_TOKENS reach the
// container from their SecureString at boot, never through user data. The port is the service's
// own default (the env file never sets ADMIN_PORT), read from the service, not restated here.
import { loadConfig } from '@sugang/service/config'
import t from 'tap'
import { profiles } from '../src/config/index.js'
import { adminTokensParameterName } from '../src/constructs/access.js'
import {
  type Body,
  everywhere,
  only,
  policyStatements,
  resourceList,
  synthPlatform,
  type SynthesizedPlatform,
  userData,
} from './helpers/synth.js'

const service = loadConfig({ ADMIN_TOKENS: `probe:${'0'.repeat(64)}` }).admin
if (!service) throw new Error('the service configured no admin listener from ADMIN_TOKENS')
const ADMIN_PORT = service.port

const platforms: ReadonlyArray<[string, SynthesizedPlatform]> = [
  ['small', synthPlatform(profiles.small)],
  ['ha', synthPlatform(profiles.ha)],
]

/** Whether a security group rule lets traffic through on a port (every port for protocol -1). */
function covers(rule: Body, port: number): boolean {
  const protocol = String(rule.ip_protocol ?? rule.protocol)
  if (protocol === '-1' || protocol === 'all') return true
  return Number(rule.from_port) <= port && port <= Number(rule.to_port)
}

/** The lines of the env file the container reads. */
function envFileLines(script: string): string[] {
  const block = /\n\{\n([\s\S]*?)\n\} >\/run\/sugang\/app\.env\.new/.exec(script)?.[1]
  if (!block) throw new Error('no env file block in the user data')
  return block.split('\n').map((line) => line.trim())
}

t.test('the service listens for operators on a port of its own, on loopback', async (t) => {
  t.equal(service.host, '127.0.0.1', 'ADMIN_HOST defaults to loopback')
  t.not(ADMIN_PORT, 3000, 'not the public port')
  t.not(ADMIN_PORT, 9464, 'not the metrics port')
})

for (const [profile, platform] of platforms) {
  t.test(`${profile}: no security group admits anyone to the admin port`, async (t) => {
    const inbound = [
      ...everywhere(platform, 'aws_vpc_security_group_ingress_rule'),
      ...everywhere(platform, 'aws_security_group_rule').filter((r) => r.type === 'ingress'),
      ...everywhere(platform, 'aws_security_group').flatMap((g) => (g.ingress ?? []) as Body[]),
    ]
    t.ok(inbound.length >= 5, `${inbound.length} inbound rules checked`)
    for (const rule of inbound) {
      t.notOk(covers(rule, ADMIN_PORT), `${rule.description ?? JSON.stringify(rule)}`)
    }
  })

  t.test(`${profile}: the load balancer neither listens on nor forwards to it`, async (t) => {
    const listeners = everywhere(platform, 'aws_lb_listener')
    t.ok(listeners.length >= 2, 'HTTPS and the redirect')
    for (const listener of listeners) t.not(Number(listener.port), ADMIN_PORT, 'listener port')
    const groups = everywhere(platform, 'aws_lb_target_group')
    t.equal(groups.length, 1, 'one target group: the service port')
    for (const group of groups) {
      t.not(Number(group.port), ADMIN_PORT, 'target group port')
      const checks = [group.health_check ?? []].flat() as Body[]
      for (const check of checks) t.not(Number(check.port), ADMIN_PORT, 'health check port')
    }
    for (const attachment of everywhere(platform, 'aws_lb_target_group_attachment')) {
      t.not(Number(attachment.port), ADMIN_PORT, 'attachment port')
    }
    t.same(everywhere(platform, 'aws_lb_listener_rule'), [], 'no rule routes elsewhere')
    // What the load balancer may send to: the service port of the app group, nothing wider.
    const albEgress = everywhere(platform, 'aws_vpc_security_group_egress_rule').filter((r) =>
      /alb-sg/.test(String(r.security_group_id)),
    )
    t.ok(albEgress.length > 0, 'the load balancer has its egress rules')
    for (const rule of albEgress) t.notOk(covers(rule, ADMIN_PORT), 'load balancer egress')
  })

  t.test(
    `${profile}: the container publishes the service and metrics ports only, and leaves the admin listener on its own loopback`,
    async (t) => {
      const script = userData(platform.app)
      const run = /^ExecStart=\/usr\/bin\/docker run (.*)$/m.exec(script)?.[1]
      if (!run) throw new Error('no docker run of the service in the user data')
      t.same(
        [...run.matchAll(/(?:^| )(?:-p|--publish)[ =](\S+)/g)].map((m) => m[1]),
        ['3000:3000', '9464:9464'],
      )
      t.notMatch(run, /--net(work)?[ =]host/, 'the container has a network namespace of its own')
      t.notMatch(run, /-P\b|--publish-all/, 'nothing is published by EXPOSE alone')
      t.notMatch(script, new RegExp(`\\b${ADMIN_PORT}\\b`), 'the admin port appears nowhere')
      const lines = envFileLines(script)
      t.same(
        lines.filter((line) => /ADMIN_(HOST|PORT)=/.test(line)),
        [],
        "ADMIN_HOST and ADMIN_PORT keep the service's defaults",
      )
    },
  )

  t.test(
    `${profile}: ADMIN_TOKENS comes from its SecureString at boot, never from user data or Terraform`,
    async (t) => {
      const script = userData(platform.app)
      const name = adminTokensParameterName(`sugang-${profile}`)
      const runtime = resourceList(platform.app, 'aws_ssm_parameter').find((p) =>
        String(p.name).endsWith('/app/runtime'),
      )!
      t.equal(JSON.parse(runtime.value as string).adminTokensParameterName, name)
      t.match(
        script,
        /admin_tokens=\$\(aws ssm get-parameter --region "\$REGION" --name "\$\(setting adminTokensParameterName\)" \\\n\s+--with-decryption /,
        'read and decrypted from the parameter the runtime settings name',
      )
      t.same(
        envFileLines(script).filter((line) => line.includes('ADMIN_TOKENS')),
        ['echo "ADMIN_TOKENS=$admin_tokens"'],
        'written into the env file from what boot read, and only then',
      )
      t.notMatch(
        script.replaceAll(/sha256:[0-9a-f]{64}/g, ''),
        /[A-Za-z0-9._@-]+:[0-9a-f]{64}/,
        'no name:sha256 entry is written into the user data',
      )
      for (const stack of Object.values(platform)) {
        t.same(
          resourceList(stack, 'aws_ssm_parameter').filter((p) => p.name === name),
          [],
          'operators write it: its value is in no Terraform state',
        )
      }
      // The instance role reads it by its ARN, and its deny of every other parameter spares it.
      const arn = `arn:aws:ssm:${profiles[profile as 'small' | 'ha'].region}:${profiles[profile as 'small' | 'ha'].accountId}:parameter${name}`
      const policy = resourceList(platform.app, 'aws_iam_role_policy').find(
        (p) => p.name === 'sugang-app',
      )
      if (!policy) throw new Error('no instance policy')
      const statements = policyStatements(platform.app, policy.policy as string)
      t.match(
        statements.find((s) => s.sid === 'AdminTokens'),
        {
          effect: 'Allow',
          actions: ['ssm:GetParameter'],
          resources: [arn],
        },
      )
      t.ok(
        (statements.find((s) => s.sid === 'NoOtherParameters')?.not_resources as string[]).includes(
          arn,
        ),
        'the deny of other parameters leaves it readable',
      )
    },
  )

  t.test(`${profile}: operators reach the listener through the container's CLI`, async (t) => {
    const script = userData(platform.app)
    t.match(
      script,
      /\nexec docker exec -e SUGANG_ADMIN_TOKEN sugang node service\/bin\/sugang\.js "\$@"\n/,
      'the token passes by name from the caller, never on a command line',
    )
    t.match(script, 'chmod 0755 /usr/local/bin/sugang')
    t.equal(only(platform.app, 'aws_launch_template').key_name, undefined, 'and never over SSH')
  })
}
