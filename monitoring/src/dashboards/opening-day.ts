import * as bargauge from '@grafana/grafana-foundation-sdk/bargauge'
import * as common from '@grafana/grafana-foundation-sdk/common'
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard'
import { datasource, datasourceVariable } from './datasource.js'
import { SCHEDULE_SERIES } from '../schedule.js'
import { increase, mysql, nre, rate, redis, sugang, up } from './metrics.js'
import {
  board,
  dashedLine,
  scheduleLine,
  row,
  statPanel,
  targets,
  thresholds,
  timeseriesPanel,
  type Cell,
} from './panels.js'

// "sugang / Opening day": one board for the morning of an opening. The top row answers "are we
// keeping up?"; each row under it is one place where we might not be: the door, the queues and
// the admission worker, logins, event streams, MySQL and Redis, the instances and the e-mails.
// Every instance and course is shown: there are no variables to narrow it, so nothing is hidden.

/**
 * What was scheduled for the opening, from the profile's rule file (src/schedule.ts): the
 * instances the Auto Scaling group holds from the scale-out, and the requests/s they serve.
 */
const scheduledInstances = SCHEDULE_SERIES.minimumInstances
const scheduledCapacity = SCHEDULE_SERIES.capacity

const m = sugang
/** API requests, the load balancer's health probes left out: what students send. */
const api = { route: nre('/health/.*') } as const
const LOGIN = '/api/v1/auth/login'

const doorRate = `sum(${rate(m.httpRequests.count(api))})`
const queued = `sum(max by (course_id) (${m.queueLength.select()}))`
const decided = `sum(${rate(m.admissions.select())})`
/**
 * Seconds to decide what is queued at the current pace (Little's law): 0 with an empty queue,
 * +Inf while requests wait and nothing is decided. sugang_admissions_total has no course label,
 * so this is for all courses together. The wait ahead, where the measured waits are behind.
 */
const decisionLag = `(${queued} > 0) / (${decided} or vector(0)) or ${queued}`
/** Measured waits from joining a queue to the decision, an operator's pauses left out. */
const waits = m.decisionWait.bucket({ paused: 'false' })
/** Instances whose scrape succeeds and whose MySQL and Redis both answer (/health/ready). */
const healthy = `count((${up('sugang')} == 1) and on (instance) (min by (instance) (${m.dependencyUp.select()}) == 1)) or vector(0)`

/** Each Redis node's main thread: CPU seconds per second, system and user together. */
const byNode = (selector: string) => `sum by (shard, instance, role) (${rate(selector)})`
const redisCpu = `${byNode(redis.cpuSysMainThread.select())} + ${byNode(redis.cpuUserMainThread.select())}`

const stat = (panel: Cell['panel']): Cell => ({ panel, w: 4, h: 4 })
const third = (panel: Cell['panel']): Cell => ({ panel, w: 8, h: 8 })
const half = (panel: Cell['panel']): Cell => ({ panel, w: 12, h: 8 })

const p99 = (bucket: string, by = '') =>
  `histogram_quantile(0.99, sum by (${by ? `${by}, ` : ''}le) (${rate(bucket)}))`
const p50 = (bucket: string) => `histogram_quantile(0.5, sum by (le) (${rate(bucket)}))`

/** The courses with the longest queues, longest first. */
function topQueues(): bargauge.PanelBuilder {
  return new bargauge.PanelBuilder()
    .id(13)
    .title('Top courses by queue length')
    .description(
      'The ten longest course queues now (every instance reads the same queue from Redis). A course that stays on top while decisions/s is high is a popular course; one that stays on top while the rest drain is paused, under a ceiling, or its admission is failing (Service board, Operator controls).',
    )
    .datasource(datasource)
    .unit('short')
    .min(0)
    .thresholds(thresholds('green', [100, 'orange'], [1000, 'red']))
    .displayMode(common.BarGaugeDisplayMode.Basic)
    .orientation(common.VizOrientation.Horizontal)
    .showUnfilled(true)
    .reduceOptions(
      new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).fields('').values(false),
    )
    .targets(
      targets(
        [
          {
            expr: `topk(10, max by (course_id) (${m.queueLength.select()}))`,
            legend: '{{course_id}}',
          },
        ],
        'instant',
      ),
    )
}

export function openingDayDashboard(): dashboard.Dashboard {
  return board({
    uid: 'sugang-opening-day',
    title: 'sugang / Opening day',
    description:
      "Are we keeping up, and if not, where: the door against the scheduled capacity (the profile's instances for the opening and what they serve), queues and decisions, logins, streams, MySQL, Redis, instances, e-mail.",
    from: 'now-1h',
    variables: [datasourceVariable()],
    sections: [
      {
        row: row(1, 'Are we keeping up?'),
        lines: [
          [
            stat(
              statPanel({
                id: 2,
                title: 'Requests/s at the door',
                description:
                  'Every API request of every instance, health probes left out: what the load balancer passes on. Its share of the scheduled capacity is beside it.',
                unit: 'reqps',
                queries: [{ expr: doorRate }],
                thresholds: thresholds('blue'),
              }),
            ),
            stat(
              statPanel({
                id: 3,
                title: 'Share of the scheduled capacity',
                description: `Requests/s at the door over what the scheduled instances serve (${scheduledCapacity}: the profile's rush instances × the requests/s one serves, from its schedule rule file). The rush was sized for half of it; above 80 % answers slow down and the service starts shedding with 503. No data: Prometheus has no schedule (prometheus/schedules/).`,
                unit: 'percentunit',
                queries: [{ expr: `${doorRate} / scalar(${scheduledCapacity})` }],
                thresholds: thresholds('green', [0.5, 'orange'], [0.8, 'red']),
              }),
            ),
            stat(
              statPanel({
                id: 4,
                title: 'Waiting in queues',
                description: 'Requests waiting in every course queue together.',
                queries: [{ expr: queued }],
                thresholds: thresholds('green', [1000, 'orange'], [10000, 'red']),
              }),
            ),
            stat(
              statPanel({
                id: 5,
                title: 'Decision wait p99',
                description:
                  "How long the slowest 1 % of the requests decided lately waited from joining their queue to their decision, waits through an operator's pause left out. The objective is 99 % within 60 s (SugangDecisionBudgetBurn); the benchmark decides every request within 15 s of the first. A stall decides nothing, so it shows in the wait ahead (Queues and decisions), not here.",
                unit: 's',
                queries: [{ expr: p99(waits) }],
                thresholds: thresholds('green', [15, 'orange'], [60, 'red']),
              }),
            ),
            stat(
              statPanel({
                id: 6,
                title: 'Healthy instances of the scheduled',
                description: `Instances scraped whose MySQL and Redis both answer (what /health/ready checks), over the instances the schedule starts before the opening (${scheduledInstances}, the profile's compute.rush.instances). Red below 100 %: the scale-out did not happen, or instances are failing.`,
                unit: 'percentunit',
                queries: [{ expr: `${healthy} / scalar(${scheduledInstances})` }],
                thresholds: thresholds('red', [1, 'green']),
              }),
            ),
            stat(
              statPanel({
                id: 7,
                title: 'Oldest e-mail waiting',
                description:
                  'Age of the oldest confirmation e-mail not sent yet. SugangConfirmationEmailsDelayed fires above 20 minutes.',
                unit: 's',
                queries: [{ expr: `max(${m.confirmationOldestWaiting.select()})` }],
                thresholds: thresholds('green', [600, 'orange'], [1200, 'red']),
              }),
            ),
          ],
        ],
      },
      {
        row: row(8, 'The door'),
        lines: [
          [
            third(
              scheduleLine(
                timeseriesPanel({
                  id: 9,
                  title: 'Requests/s at the door by instance',
                  description:
                    "Stacked: the top is the whole door; the dashed red line is the scheduled capacity (the profile's schedule rule file); an instance far above the others is one the load balancer favours or one that is left alone.",
                  unit: 'reqps',
                  stack: true,
                  queries: [
                    {
                      expr: `sum by (instance) (${rate(m.httpRequests.count(api))})`,
                      legend: '{{instance}}',
                    },
                    { expr: scheduledCapacity, legend: 'scheduled capacity' },
                  ],
                }),
                'B',
              ),
            ),
            third(
              timeseriesPanel({
                id: 10,
                title: 'Answers/s by status',
                description:
                  '409 and 429 are the rush working as designed; 503 is an instance shedding load (its event loop is behind) or a login waiting too long for its check; other 5xx are failures.',
                unit: 'reqps',
                stack: true,
                queries: [
                  {
                    expr: `sum by (status_code) (${rate(m.httpRequests.count(api))})`,
                    legend: '{{status_code}}',
                  },
                ],
              }),
            ),
            third(
              timeseriesPanel({
                id: 11,
                title: 'Event loop lag p99 by instance',
                description:
                  'An instance sheds requests with 503 above MAX_EVENT_LOOP_DELAY_MS (1 s by default): the instance is saturated.',
                unit: 's',
                queries: [
                  {
                    expr: `max by (instance) (${m.eventLoopLagP99.select()})`,
                    legend: '{{instance}}',
                  },
                ],
              }),
            ),
          ],
        ],
      },
      {
        row: row(12, 'Queues and decisions'),
        lines: [
          [
            third(topQueues()),
            third(
              timeseriesPanel({
                id: 14,
                title: 'Queued/s and decided/s',
                description:
                  'Requests the door queued against decisions the admission workers made, by outcome (stacked). Decided below queued for long means the queues grow: look at the batches and MySQL below.',
                unit: 'ops',
                queries: [
                  {
                    expr: `sum(${rate(m.enrollmentRequests.select({ outcome: 'queued' }))})`,
                    legend: 'queued/s',
                  },
                  {
                    expr: `sum by (outcome) (${rate(m.admissions.select())})`,
                    legend: 'decided/s {{outcome}}',
                  },
                ],
              }).overrideByRegexp('^decided/s .*', [
                { id: 'custom.stacking', value: { mode: 'normal', group: 'decided' } },
                { id: 'custom.fillOpacity', value: 30 },
              ]),
            ),
            third(
              dashedLine(
                timeseriesPanel({
                  id: 15,
                  title: 'Decision wait',
                  description:
                    "Measured: how long requests decided lately waited from joining their queue to their decision (p50, p99; an operator's pauses left out), timed by the worker on Redis's clock. Ahead: what a request joining now would wait at the current pace, queued ÷ decisions/s over all courses; it rises first when the queues grow faster than they are decided, and alone shows a stall. The dashed red line is the objective's 60 s.",
                  unit: 's',
                  min: 0,
                  queries: [
                    { expr: p50(waits), legend: 'measured p50' },
                    { expr: p99(waits), legend: 'measured p99' },
                    { expr: decisionLag, legend: 'ahead: queued ÷ decided/s' },
                  ],
                }),
                60,
              ),
            ),
          ],
          [
            half(
              timeseriesPanel({
                id: 16,
                title: 'Admission batch duration',
                description:
                  'One admission transaction: lock the course, apply the rules, insert, commit. Long batches with few decisions each point at MySQL (lock waits) rather than at the volume.',
                unit: 's',
                queries: [
                  { expr: p50(m.admissionBatch.bucket()), legend: 'p50' },
                  { expr: p99(m.admissionBatch.bucket()), legend: 'p99' },
                ],
              }),
            ),
            half(
              timeseriesPanel({
                id: 17,
                title: 'Admission batch size',
                description:
                  "Decisions per committed batch (mean over the interval; a full course's bulk rejections count too). The service exports no batch-size histogram: this is decisions/s ÷ batches/s.",
                unit: 'short',
                min: 0,
                queries: [
                  {
                    expr: `${decided} / sum(${rate(m.admissionBatch.count())})`,
                    legend: 'decisions per batch',
                  },
                ],
              }),
            ),
          ],
        ],
      },
      {
        row: row(18, 'Logins'),
        lines: [
          [
            half(
              timeseriesPanel({
                id: 19,
                title: 'Logins/s by status',
                description:
                  '200 logged in, 401 a wrong password, 429 refused before the check (below, by reason), 503 LOGIN_BUSY: more logins than the instances can check within 5 s.',
                unit: 'reqps',
                stack: true,
                queries: [
                  {
                    expr: `sum by (status_code) (${rate(m.httpRequests.count({ route: LOGIN, method: 'POST' }))})`,
                    legend: '{{status_code}}',
                  },
                ],
              }),
            ),
            half(
              timeseriesPanel({
                id: 20,
                title: 'Login refusals/s by reason',
                description:
                  'Refused before the password was checked. account (ACCOUNT_LOCKED): one account guessed at; address (LOGIN_RATE_LIMITED): many failures from one address, guessing or a campus behind one NAT (LOGIN_CAMPUS_NETWORKS); device (LOGIN_RATE_LIMITED): one browser; busy (LOGIN_BUSY, 503): the checks are saturated, a capacity problem, not an attack.',
                unit: 'reqps',
                stack: true,
                queries: [
                  {
                    expr: `sum by (reason) (${rate(m.loginRefusals.select())})`,
                    legend: '{{reason}}',
                  },
                ],
              }),
            ),
          ],
        ],
      },
      {
        row: row(21, 'Event streams'),
        lines: [
          [
            third(
              timeseriesPanel({
                id: 22,
                title: 'Stream listeners by instance',
                description:
                  'Open live streams of request answers, one per watched request and tab. The load balancer spreads connections, not work: an instance far above the others holds more streams than its share.',
                unit: 'short',
                min: 0,
                stack: true,
                queries: [
                  {
                    expr: `sum by (instance) (${m.watchListeners.select()})`,
                    legend: '{{instance}}',
                  },
                ],
              }),
            ),
            third(
              dashedLine(
                timeseriesPanel({
                  id: 23,
                  title: 'Stream round duration p99 by instance',
                  description:
                    'One round recomputes the places of every watched request of the instance (one queue read for all), every second (the dashed red line). A round near 1 s means the instance is at its stream capacity: places and answers reach students late.',
                  unit: 's',
                  queries: [
                    {
                      expr: p99(m.watchRounds.bucket(), 'instance'),
                      legend: '{{instance}}',
                    },
                  ],
                }),
                1,
              ),
            ),
            third(
              timeseriesPanel({
                id: 24,
                title: 'Stream updates/s by instance',
                description: 'Live request updates pushed to watching students.',
                unit: 'ops',
                stack: true,
                queries: [
                  {
                    expr: `sum by (instance) (${rate(m.watchUpdates.select())})`,
                    legend: '{{instance}}',
                  },
                ],
              }),
            ),
          ],
        ],
      },
      {
        row: row(25, 'MySQL and Redis'),
        lines: [
          [
            third(
              timeseriesPanel({
                id: 26,
                title: 'MySQL: admission commits/s and failed attempts/s',
                description:
                  "What the service sees of MySQL: each admission batch is one committed transaction; a failed attempt (a lock wait timeout, a deadlock, a lost connection) is retried. The server's own commits and lock waits are in the panel below.",
                unit: 'ops',
                queries: [
                  {
                    expr: `sum(${rate(m.admissionBatch.count())})`,
                    legend: 'admission commits/s',
                  },
                  {
                    expr: `sum(${rate(m.admissionErrors.select())})`,
                    legend: 'failed attempts/s',
                  },
                ],
              }),
            ),
            third(
              timeseriesPanel({
                id: 27,
                title: 'Redis: cache repairs and reflection failures',
                description:
                  "Repairs: courses whose queue caches the reconciler rebuilt from MySQL because Redis lost a write (a failover, an eviction). Reflection failures: committed cancellations whose update of the queue failed at first. Both are 0 on a good day. Each shard's CPU is in the panel below.",
                unit: 'short',
                min: 0,
                queries: [
                  {
                    expr: `sum(${increase(m.cacheRepairs.select(), '5m')})`,
                    legend: 'cache repairs (5 min)',
                  },
                  {
                    expr: `sum(${increase(m.reflectionFailures.select(), '5m')})`,
                    legend: 'reflection failures (5 min)',
                  },
                ],
              }),
            ),
            {
              w: 8,
              stack: [
                {
                  h: 4,
                  panel: statPanel({
                    id: 28,
                    title: 'Dependencies answering',
                    description:
                      "1 when every instance's last background check reached it (what /health/ready answers from).",
                    queries: [
                      {
                        expr: `min by (dependency) (${m.dependencyUp.select()})`,
                        legend: '{{dependency}}',
                      },
                    ],
                    thresholds: thresholds('red', [1, 'green']),
                  }),
                },
                {
                  h: 4,
                  panel: statPanel({
                    id: 29,
                    title: 'MySQL replica lag',
                    description:
                      'Seconds the read replica is behind the primary; reads of the catalogue and of "my enrollments" are that old. SugangReplicaLagging fires above 30 s.',
                    unit: 's',
                    queries: [{ expr: `max(${m.replicaLag.select()})` }],
                    thresholds: thresholds('green', [5, 'orange'], [30, 'red']),
                  }),
                },
              ],
            },
          ],
          [
            half(
              dashedLine(
                timeseriesPanel({
                  id: 33,
                  title: 'Redis CPU per shard (main thread)',
                  description:
                    "CPU seconds per second of each Redis node's main thread, which runs every command: at 100 % the node can take no more, and every queue, seat and session on its shard waits (the dashed red line is 80 %). One shard far above the others is a hot course's keys; every shard high together is the rush outgrowing the cluster. From redis_exporter on the monitoring host, which reads each node's INFO.",
                  unit: 'percentunit',
                  min: 0,
                  queries: [
                    {
                      expr: redisCpu,
                      legend: 'shard {{shard}} {{instance}} ({{role}})',
                    },
                  ],
                }),
                0.8,
              ),
            ),
            half(
              timeseriesPanel({
                id: 34,
                title: 'MySQL commits/s and row lock waits',
                description:
                  "From mysqld_exporter on the monitoring host (SHOW GLOBAL STATUS), per server (primary, replica). Commits/s: every explicit COMMIT, the service's admission batches and cancellations among them. Row lock waits/s: InnoDB row locks that were not free at once; waiting now: those under way (right axis). Admission batches lock their course's row, so waits that rise with decided/s flat point at one hot course's batches queueing behind each other, or at another writer holding rows.",
                unit: 'ops',
                min: 0,
                queries: [
                  {
                    expr: `sum by (instance) (${rate(mysql.commands.select({ command: 'commit' }))})`,
                    legend: 'commits/s {{instance}}',
                  },
                  {
                    expr: `sum by (instance) (${rate(mysql.rowLockWaits.select())})`,
                    legend: 'row lock waits/s {{instance}}',
                  },
                  {
                    expr: `max by (instance) (${mysql.rowLockCurrentWaits.select()})`,
                    legend: 'waiting now {{instance}}',
                  },
                ],
              }).overrideByQuery('C', [
                { id: 'unit', value: 'short' },
                { id: 'custom.axisPlacement', value: 'right' },
              ]),
            ),
          ],
        ],
      },
      {
        row: row(30, 'Instances and e-mail'),
        lines: [
          [
            half(
              scheduleLine(
                timeseriesPanel({
                  id: 31,
                  title: 'Healthy instances against the scheduled minimum',
                  description:
                    "Instances whose MySQL and Redis answer, and instances scraped at all. The dashed red line is the scheduled minimum for the opening (the profile's compute.rush.instances).",
                  unit: 'short',
                  min: 0,
                  queries: [
                    { expr: healthy, legend: 'healthy' },
                    { expr: `sum(${up('sugang')})`, legend: 'scraped' },
                    { expr: scheduledInstances, legend: 'scheduled minimum' },
                  ],
                }),
                'C',
              ),
            ),
            half(
              timeseriesPanel({
                id: 32,
                title: 'E-mail backlog',
                description:
                  'Confirmation e-mails owed (pending, sending) and given up on (dead), and the age of the oldest one owed (right axis). The notifier sends them in the background: a backlog delays e-mails, never a registration.',
                unit: 'short',
                min: 0,
                queries: [
                  {
                    expr: `max by (state) (${m.confirmations.select()})`,
                    legend: '{{state}}',
                  },
                  {
                    expr: `max(${m.confirmationOldestWaiting.select()})`,
                    legend: 'oldest owed',
                  },
                ],
              }).overrideByQuery('B', [
                { id: 'unit', value: 's' },
                { id: 'custom.axisPlacement', value: 'right' },
              ]),
            ),
          ],
        ],
      },
    ],
  })
}
