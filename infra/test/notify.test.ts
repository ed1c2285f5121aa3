import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { Testing } from '../src/cdktf.js'
import { profiles } from '../src/config/index.js'
import { schedulePeriodSeconds } from '../src/constructs/notify.js'
import { only, policyStatements, resourceList, synthPlatform } from './helpers/synth.js'

const withoutBundle = synthPlatform(profiles.small).notify
const ha = synthPlatform(profiles.ha).notify

// An infra directory with a (stand-in) built bundle at the configured path beside it.
const builtDir = path.join(mkdtempSync(path.join(os.tmpdir(), 'sugang-notify-')), 'infra')
const bundle = path.join(builtDir, profiles.small.notify.bundlePath)
mkdirSync(bundle, { recursive: true })
writeFileSync(path.join(bundle, 'index.mjs'), 'export const handler = async () => ({})\n')
const withBundle = synthPlatform(profiles.small, builtDir).notify

t.test(
  'synthesis does not need the e-mail bundle: a placeholder stands in, unscheduled',
  async (t) => {
    const fn = only(withoutBundle, 'aws_lambda_function')
    t.match(fn.filename, /^assets\/notify_code_.*\/archive\.zip$/)
    t.equal(only(withoutBundle, 'aws_cloudwatch_event_rule').state, 'DISABLED')
  },
)

t.test('with the bundle built, the function ships it and the schedule is enabled', async (t) => {
  const fn = only(withBundle, 'aws_lambda_function')
  t.match(fn.filename, /^assets\/notify_code_.*\/archive\.zip$/)
  t.equal(fn.handler, 'index.handler')
  t.equal(fn.runtime, 'nodejs22.x')
  t.not(fn.source_code_hash, only(withoutBundle, 'aws_lambda_function').source_code_hash)
  t.match(only(withBundle, 'aws_cloudwatch_event_rule'), {
    state: 'ENABLED',
    schedule_expression: profiles.small.notify.scheduleExpression,
  })
})

t.test('the function runs in the private app subnets with a dead-letter queue', async (t) => {
  for (const stack of [withoutBundle, ha]) {
    const fn = only(stack, 'aws_lambda_function')
    t.ok(fn.vpc_config.subnet_ids.every((s: string) => /network_app-\d/.test(s)))
    t.match(fn.vpc_config.security_group_ids, [/network_notify-sg/])
    t.match(fn.dead_letter_config.target_arn, /aws_sqs_queue\.notify_dlq/)
    t.ok(
      Testing.toHaveResourceWithProperties(stack.json, 'aws_sqs_queue', {
        sqs_managed_sse_enabled: true,
      }),
    )
  }
})

t.test(
  'the function reserves no concurrency, which a new account (quota 10) would refuse',
  async (t) => {
    for (const stack of [withoutBundle, withBundle, ha]) {
      const fn = only(stack, 'aws_lambda_function')
      t.notOk('reserved_concurrent_executions' in fn, 'no reservation')
    }
  },
)

t.test(
  'runs do not pile up: one per period, ended within it, never retried or started late',
  async (t) => {
    for (const [config, stack] of [
      [profiles.small, withoutBundle],
      [profiles.ha, ha],
    ] as const) {
      const fn = only(stack, 'aws_lambda_function')
      t.ok(fn.timeout < schedulePeriodSeconds(config.notify.scheduleExpression), 'timeout < period')
      t.match(only(stack, 'aws_lambda_function_event_invoke_config'), {
        function_name: /aws_lambda_function\.notify_function_.*\.function_name/,
        maximum_retry_attempts: 0,
        maximum_event_age_in_seconds: 60,
      })
      // Dropped and failed invocations go to the dead-letter queue, which pages.
      t.match(fn.dead_letter_config.target_arn, /aws_sqs_queue\.notify_dlq/)
    }
    t.equal(schedulePeriodSeconds('rate(1 minute)'), 60)
    t.equal(schedulePeriodSeconds('rate(5 minutes)'), 300)
    t.equal(schedulePeriodSeconds('rate(2 hours)'), 7200)
  },
)

t.test(
  'synthesis refuses a timeout as long as the period, or a schedule it cannot time',
  async (t) => {
    const withNotify = (notify: Partial<typeof profiles.small.notify>) => ({
      ...profiles.small,
      notify: { ...profiles.small.notify, ...notify },
    })
    t.throws(() => synthPlatform(withNotify({ timeoutSeconds: 60 })), {
      message: /notify\.timeoutSeconds \(60\) must be below the schedule's period \(60 s\)/,
    })
    t.throws(() => synthPlatform(withNotify({ scheduleExpression: 'cron(* * * * ? *)' })), {
      message: /notify\.scheduleExpression must be rate/,
    })
    t.doesNotThrow(() =>
      synthPlatform(withNotify({ scheduleExpression: 'rate(5 minutes)', timeoutSeconds: 120 })),
    )
  },
)

t.test('the schedule may invoke the function, and nothing else is granted', async (t) => {
  t.ok(
    Testing.toHaveResourceWithProperties(withoutBundle.json, 'aws_lambda_permission', {
      action: 'lambda:InvokeFunction',
      principal: 'events.amazonaws.com',
    }),
  )
  t.equal(resourceList(withoutBundle, 'aws_lambda_permission').length, 1)
})

t.test('SES sends from the configured domain identity', async (t) => {
  t.ok(
    Testing.toHaveResourceWithProperties(withoutBundle.json, 'aws_sesv2_email_identity', {
      email_identity: profiles.small.notify.senderDomain,
    }),
  )
})

t.test(
  'the function may send mail, read the database secret and dead-letter, nothing more',
  async (t) => {
    const inline = only(withoutBundle, 'aws_iam_role_policy')
    const statements = policyStatements(withoutBundle, inline.policy)
    t.same(statements.map((s) => s.sid).sort(), [
      'DatabaseCredentials',
      'DeadLetters',
      'SendConfirmations',
    ])
    t.ok(statements.every((s) => !s.resources.includes('*')))
    t.same(statements.find((s) => s.sid === 'SendConfirmations')!.resources, [
      'arn:aws:ses:ap-northeast-2:111111111111:identity/example.ac.kr',
      'arn:aws:ses:ap-northeast-2:111111111111:configuration-set/sugang-small-confirmations',
    ])
  },
)

t.test(
  'the bundle the service builds is what the function ships, with the settings it reads',
  async (t) => {
    const infraDir = fileURLToPath(new URL('..', import.meta.url))
    execFileSync('npm', ['run', 'bundle:notify', '--workspace', 'service'], {
      cwd: path.join(infraDir, '..'),
      stdio: 'ignore',
    })
    t.ok(existsSync(path.join(infraDir, profiles.small.notify.bundlePath, 'index.mjs')))
    const real = synthPlatform(profiles.small, infraDir).notify
    t.equal(only(real, 'aws_cloudwatch_event_rule').state, 'ENABLED', 'no placeholder')
    const fn = only(real, 'aws_lambda_function')
    // What the handler's configuration (loadNotifierConfig) reads in production.
    t.same(Object.keys(fn.environment.variables).sort(), [
      'DATABASE_HOST',
      'DATABASE_NAME',
      'DATABASE_SECRET_ARN',
      'DATABASE_TLS',
      'MAIL_FROM',
      'NODE_ENV',
      'NODE_OPTIONS',
      'SES_CONFIGURATION_SET',
      'SITE_URL',
    ])
    t.equal(fn.environment.variables.SITE_URL, `https://${profiles.small.edge.domainName}/`)
  },
)
