/**
 * The confirmation e-mail Lambda (bundled by `npm run bundle:notify`, deployed by the notify
 * stack, invoked every minute by EventBridge). Each run sends what is due and stops claiming new
 * batches well before the function's timeout; the claims of a run that is cut off anyway run out
 * and are sent by a later one.
 */
import { pino } from 'pino'
import { loadNotifierConfig, type NotifierConfig } from '../config.js'
import type { ConfirmationBacklog, SendReport } from '../domain/confirmations.js'
import type { Notifier } from '../notifier.js'
import { createNotifier } from '../wiring/notifier.js'

/** The part of the Lambda context this handler uses. */
export interface LambdaContext {
  getRemainingTimeInMillis(): number
  readonly functionName?: string
}

/** Time kept back from the function's timeout: one batch's worth and then some. */
const STOP_MARGIN_MS = 15_000

let config: NotifierConfig | undefined
let notifier: Promise<Notifier> | undefined

function logger(level: string) {
  return pino({ level, base: { component: 'notify-email' } })
}

/**
 * CloudWatch embedded metric format: one log line that CloudWatch turns into metrics, with no
 * API call from inside the VPC. The alarms on them are defined with the function.
 */
export function metricsLine(
  functionName: string,
  report: SendReport,
  backlog: ConfirmationBacklog,
  now: Date,
): string {
  const values = {
    ConfirmationsSent: report.sent,
    ConfirmationsRetried: report.retried,
    ConfirmationsFailed: report.dead,
    ConfirmationsPending: backlog.pending + backlog.sending,
    ConfirmationsDead: backlog.dead,
    ConfirmationOldestWaitingSeconds: backlog.oldestWaiting
      ? Math.max(0, (now.getTime() - backlog.oldestWaiting.getTime()) / 1000)
      : 0,
  }
  return JSON.stringify({
    _aws: {
      Timestamp: now.getTime(),
      CloudWatchMetrics: [
        {
          Namespace: 'sugang',
          Dimensions: [['FunctionName']],
          Metrics: Object.keys(values).map((Name) => ({
            Name,
            Unit: Name.endsWith('Seconds') ? 'Seconds' : 'Count',
          })),
        },
      ],
    },
    FunctionName: functionName,
    ...values,
  })
}

export async function handler(
  _event: unknown,
  context: LambdaContext,
): Promise<SendReport & { backlog: ConfirmationBacklog }> {
  config ??= loadNotifierConfig(process.env)
  const log = logger(config.logLevel)
  // Kept across invocations of a warm function: one pool, one SES client, one secret read.
  notifier ??= createNotifier(config, { log }).catch((err: unknown) => {
    notifier = undefined
    throw err
  })
  const sender = await notifier
  const report = await sender.run(() => context.getRemainingTimeInMillis() < STOP_MARGIN_MS)
  const backlog = await sender.backlog()
  process.stdout.write(
    `${metricsLine(context.functionName ?? 'notify-email', report, backlog, new Date())}\n`,
  )
  if (report.paused !== undefined) {
    log.error({ report, backlog }, 'SES refuses to send at all; confirmations wait in the outbox')
  } else {
    log.info({ report, backlog }, 'confirmations sent')
  }
  return { ...report, backlog }
}
