import * as common from '@grafana/grafana-foundation-sdk/common'
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard'
import * as table from '@grafana/grafana-foundation-sdk/table'
import { datasource, datasourceVariable, labelValuesVariable } from './datasource.js'
import { re, nre, rate, sugang, up } from './metrics.js'
import {
  board,
  row,
  statPanel,
  targets,
  thresholds,
  timeseriesPanel,
  yesNo,
  type Cell,
} from './panels.js'

// "sugang / Service": the API, the rush, the service's health, the operator controls in force
// and the Node.js runtime, for the instances and courses chosen in the variables.

const m = sugang
const instance = re('$instance')
/** API requests of the chosen instances, the load balancer's health probes left out. */
const api = { instance, route: nre('/health/.*') } as const

const quantile = (q: number) =>
  `histogram_quantile(${q}, sum by (route, le) (${rate(m.httpRequests.bucket(api))}))`

const half = (panel: Cell['panel']): Cell => ({ panel, w: 12, h: 8 })
const third = (panel: Cell['panel']): Cell => ({ panel, w: 8, h: 8 })
const quarter = (panel: Cell['panel']): Cell => ({ panel, w: 6, h: 4 })

const green0red1 = () => thresholds('green', [1, 'red'])
const red0green1 = () => thresholds('red', [1, 'green'])

/** Admission paused by an operator, one row per course, with how long it has lasted. */
function pausesTable(): table.PanelBuilder {
  return new table.PanelBuilder()
    .id(24)
    .title('Pauses in force')
    .description(
      'Admission paused by an operator (sugang admin pause), one row per course, * for every course, with how long it has lasted. Red from 15 minutes, when SugangAdmissionPausedTooLong fires. Empty when nothing is paused. Who paused and why: sugang admin actions (runbook).',
    )
    .datasource(datasource)
    .unit('s')
    .thresholds(thresholds('orange', [900, 'red']))
    .cellOptions({ type: common.TableCellDisplayMode.ColorText })
    .overrideByName('course_id', [
      { id: 'displayName', value: 'Course (* = every course)' },
      { id: 'custom.cellOptions', value: { type: common.TableCellDisplayMode.Auto } },
    ])
    .overrideByName('Value', [{ id: 'displayName', value: 'Paused for' }])
    .showHeader(true)
    .cellHeight(common.TableCellHeight.Sm)
    .footer(new common.TableFooterOptionsBuilder().show(false).reducer(['sum']).fields([]))
    .sortBy([new common.TableSortByFieldStateBuilder().displayName('Paused for').desc(true)])
    .transformations([
      {
        id: 'organize',
        options: {
          excludeByName: { Time: true },
          indexByName: { course_id: 0, Value: 1 },
          renameByName: {},
        },
      },
    ])
    .targets(
      targets(
        [{ expr: `time() - max by (course_id) (${m.admissionPausedSince.select()})` }],
        'table',
      ),
    )
}

/** Each ceiling in force, with what admission decides beside it (dashed). */
function ceilingsPanel(): Cell['panel'] {
  const decided = 'decided/s (all courses)'
  return timeseriesPanel({
    id: 25,
    title: 'Ceilings in force (decisions/s)',
    description:
      'Each ceiling an operator set on admission decisions per second (sugang admin throttle): per course, or * for all courses together; a line only while it is in force. The dashed line is what admission decides: running at a ceiling with a long queue means students wait for it.',
    unit: 'short',
    min: 0,
    fillOpacity: 0,
    calcs: ['lastNotNull'],
    queries: [
      {
        expr: `max by (course_id) (${m.admissionCeiling.select()})`,
        legend: 'ceiling {{course_id}}',
      },
      { expr: `sum(${rate(m.admissions.select())})`, legend: decided },
    ],
  })
    .lineInterpolation(common.LineInterpolation.StepAfter)
    .lineWidth(2)
    .overrideByName(decided, [
      { id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } },
      { id: 'custom.lineWidth', value: 1 },
    ])
}

export function serviceDashboard(): dashboard.Dashboard {
  return board({
    uid: 'sugang-service',
    title: 'sugang / Service',
    description:
      'The registration service during the rush: traffic, queue, admission, health, operator controls, runtime.',
    version: 2,
    variables: [
      datasourceVariable(),
      labelValuesVariable('instance', 'Instance', up('sugang'), 'instance'),
      labelValuesVariable('course', 'Course', m.queueLength.select(), 'course_id'),
    ],
    sections: [
      {
        row: row(1, 'Traffic'),
        lines: [
          [
            half(
              timeseriesPanel({
                id: 2,
                title: 'Requests/s by route',
                description: 'API requests per second, health probes left out.',
                unit: 'reqps',
                stack: true,
                queries: [
                  {
                    expr: `sum by (route) (${rate(m.httpRequests.count(api))})`,
                    legend: '{{route}}',
                  },
                ],
              }),
            ),
            half(
              timeseriesPanel({
                id: 3,
                title: 'Responses by status',
                description: '409 COURSE_FULL and 429 are expected during the rush; 5xx is not.',
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
          ],
          [
            third(
              timeseriesPanel({
                id: 4,
                title: 'Error rate (5xx)',
                description:
                  'Share of API requests answered with a 5xx (SugangHighErrorRate warns at 5%).',
                unit: 'percentunit',
                min: 0,
                queries: [
                  {
                    expr: `sum(${rate(m.httpRequests.count({ ...api, status_code: re('5..') }))}) / sum(${rate(m.httpRequests.count(api))})`,
                    legend: '5xx share',
                  },
                ],
              }),
            ),
            third(
              timeseriesPanel({
                id: 5,
                title: 'Latency p50 by route',
                unit: 's',
                queries: [{ expr: quantile(0.5), legend: '{{route}}' }],
              }),
            ),
            third(
              timeseriesPanel({
                id: 6,
                title: 'Latency p99 by route',
                description: 'SugangHighLatency warns when a busy route stays over 1s.',
                unit: 's',
                queries: [{ expr: quantile(0.99), legend: '{{route}}' }],
              }),
            ),
          ],
        ],
      },
      {
        row: row(7, 'Rush'),
        lines: [
          [
            third(
              timeseriesPanel({
                id: 8,
                title: 'Enrollment requests/s by outcome',
                description:
                  'What the door answered: queued, an existing request, a course known to be full, ...',
                unit: 'reqps',
                stack: true,
                queries: [
                  {
                    expr: `sum by (outcome) (${rate(m.enrollmentRequests.select({ instance }))})`,
                    legend: '{{outcome}}',
                  },
                ],
              }),
            ),
            third(
              timeseriesPanel({
                id: 9,
                title: 'Queue length by course',
                description:
                  'Requests waiting in each course queue (read from Redis at scrape time; every instance reports the same).',
                unit: 'short',
                min: 0,
                queries: [
                  {
                    expr: `max by (course_id) (${m.queueLength.select({ course_id: re('$course') })})`,
                    legend: '{{course_id}}',
                  },
                ],
              }),
            ),
            third(
              timeseriesPanel({
                id: 10,
                title: 'Admissions/s by outcome',
                description: 'Decisions made by the admission workers of all instances.',
                unit: 'ops',
                stack: true,
                queries: [
                  {
                    expr: `sum by (outcome) (${rate(m.admissions.select({ instance }))})`,
                    legend: '{{outcome}}',
                  },
                ],
              }),
            ),
          ],
          [
            third(
              timeseriesPanel({
                id: 11,
                title: 'Seats left by course',
                description:
                  'As of the last admission batch of each instance; min() takes the most recent during the rush, when seats only go down.',
                unit: 'short',
                min: 0,
                queries: [
                  {
                    expr: `min by (course_id) (${m.seatsLeft.select({ course_id: re('$course') })})`,
                    legend: '{{course_id}}',
                  },
                ],
              }),
            ),
            third(
              timeseriesPanel({
                id: 12,
                title: 'Waitlist promotions/s',
                description: 'Waitlisted students who took a seat freed by a cancellation.',
                unit: 'ops',
                queries: [
                  {
                    expr: `sum(${rate(m.waitlistPromotions.select({ instance }))})`,
                    legend: 'promotions',
                  },
                ],
              }),
            ),
            third(
              timeseriesPanel({
                id: 13,
                title: 'Admission batch duration',
                description:
                  'One admission transaction (lock, rules, insert, commit). Failed attempts are retried.',
                unit: 's',
                queries: [
                  {
                    expr: `histogram_quantile(0.5, sum by (le) (${rate(m.admissionBatch.bucket({ instance }))}))`,
                    legend: 'p50',
                  },
                  {
                    expr: `histogram_quantile(0.99, sum by (le) (${rate(m.admissionBatch.bucket({ instance }))}))`,
                    legend: 'p99',
                  },
                  {
                    expr: `sum(${rate(m.admissionErrors.select({ instance }))})`,
                    legend: 'failed attempts/s',
                  },
                ],
              }),
            ),
          ],
        ],
      },
      {
        row: row(14, 'Health'),
        lines: [
          [
            quarter(
              statPanel({
                id: 15,
                title: 'Enrolled over capacity',
                description: 'Courses with more enrollments than seats. Must always be 0.',
                queries: [{ expr: `max(${m.enrolledOverCapacity.select()})` }],
                thresholds: green0red1(),
              }),
            ),
            quarter(
              statPanel({
                id: 16,
                title: 'Instances up',
                queries: [{ expr: `sum(${up('sugang')})` }],
                thresholds: red0green1(),
              }),
            ),
            quarter(
              statPanel({
                id: 17,
                title: 'MySQL answering',
                description: "1 when every instance's last readiness check reached MySQL.",
                queries: [
                  { expr: `min(${m.dependencyUp.select({ instance, dependency: 'mysql' })})` },
                ],
                thresholds: red0green1(),
              }),
            ),
            quarter(
              statPanel({
                id: 18,
                title: 'Redis answering',
                description: "1 when every instance's last readiness check reached Redis.",
                queries: [
                  { expr: `min(${m.dependencyUp.select({ instance, dependency: 'redis' })})` },
                ],
                thresholds: red0green1(),
              }),
            ),
          ],
        ],
      },
      {
        // Not filtered by the course or instance variables: a pause of every course is labelled
        // course_id="*", which no choice of them may hide.
        row: row(23, 'Operator controls'),
        lines: [
          [
            { panel: pausesTable(), w: 8, h: 7 },
            { panel: ceilingsPanel(), w: 10, h: 7 },
            {
              w: 6,
              stack: [
                {
                  h: 3,
                  panel: statPanel({
                    id: 26,
                    title: 'Announcement shown',
                    description:
                      "An operator's banner is on every page (sugang admin announce; sugang admin unannounce takes it down).",
                    queries: [{ expr: `max(${m.announcementActive.select()})` }],
                    thresholds: thresholds('green', [1, 'orange']),
                    mappings: yesNo('no', 'shown'),
                    textMode: common.BigValueTextMode.Value,
                  }),
                },
                {
                  h: 4,
                  panel: statPanel({
                    id: 27,
                    title: 'Opening moved',
                    description:
                      'An operator moved the registration opening away from the configured calendar (sugang admin window); sugang admin status shows the opening in force.',
                    queries: [{ expr: `max(${m.registrationWindowMoved.select()})` }],
                    thresholds: thresholds('green', [1, 'orange']),
                    mappings: yesNo('no', 'moved'),
                    textMode: common.BigValueTextMode.Value,
                  }),
                },
              ],
            },
          ],
        ],
      },
      {
        row: row(19, 'Runtime'),
        lines: [
          [
            third(
              timeseriesPanel({
                id: 20,
                title: 'Event loop lag',
                description:
                  'The service sheds requests with 503 above MAX_EVENT_LOOP_DELAY_MS (1s by default).',
                unit: 's',
                queries: [
                  {
                    expr: `max by (instance) (${m.eventLoopLagP99.select({ instance })})`,
                    legend: 'p99 {{instance}}',
                  },
                  {
                    expr: `max by (instance) (${m.eventLoopLag.select({ instance })})`,
                    legend: 'last {{instance}}',
                  },
                ],
              }),
            ),
            third(
              timeseriesPanel({
                id: 21,
                title: 'Heap used',
                unit: 'bytes',
                queries: [
                  {
                    expr: `sum by (instance) (${m.heapUsed.select({ instance })})`,
                    legend: 'used {{instance}}',
                  },
                  {
                    expr: `sum by (instance) (${m.heapTotal.select({ instance })})`,
                    legend: 'total {{instance}}',
                  },
                ],
              }),
            ),
            third(
              timeseriesPanel({
                id: 22,
                title: 'Process CPU',
                description: 'CPU seconds per second of the Node.js process (1 = one core).',
                unit: 'percentunit',
                queries: [
                  {
                    expr: `sum by (instance) (${rate(m.processCpu.select({ instance }))})`,
                    legend: 'CPU {{instance}}',
                  },
                ],
              }),
            ),
          ],
        ],
      },
    ],
  })
}
