// Registration openings: the windows the schedule, the deploy freeze, the group's minimum and the
// load balancer's reservation are built from, and the freeze check scripts/roll-out.sh runs.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'
import { profiles } from '../src/config/index.js'
import { registrationOpenings } from '../src/registration.js'
import { freezeAt, reservedCapacityAt, rushWindows, scheduledMinimum } from '../src/rush.js'

const calendar = {
  opensAt: '2027-02-09T10:00:00+09:00',
  opensAtByYear: { 4: '2027-02-08T10:00:00+09:00', 3: '2027-02-09T10:00:00+09:00' },
}
const rush = {
  instances: 6,
  leadMinutes: 15,
  holdMinutes: 120,
  freezeBeforeMinutes: 60,
}

t.test(
  'each opening has a scale-out before, a scale-in after and a freeze around it',
  async (t) => {
    const windows = rushWindows(calendar, rush)
    t.equal(windows.length, 2, 'one per distinct opening: years 3 and the rest open together')
    const { openings, ...first } = windows[0]!
    t.same(openings, [new Date('2027-02-08T01:00:00Z')])
    t.same(
      Object.fromEntries(Object.entries(first).map(([k, v]) => [k, (v as Date).toISOString()])),
      {
        opensAt: '2027-02-08T01:00:00.000Z',
        scaleOutAt: '2027-02-08T00:45:00.000Z',
        scaleInAt: '2027-02-08T03:00:00.000Z',
        freezeFrom: '2027-02-08T00:00:00.000Z',
      },
      'in time order, in UTC',
    )
  },
)

t.test('deploys are frozen from an hour before an opening until its hold ends', async (t) => {
  const at = (instant: string) => freezeAt(calendar, rush, new Date(instant))
  t.equal(at('2027-02-08T08:59:59+09:00'), undefined, 'not a second early')
  t.ok(at('2027-02-08T09:00:00+09:00'), 'from an hour before')
  t.ok(at('2027-02-08T11:59:59+09:00'), 'through the hold')
  t.equal(at('2027-02-08T12:00:00+09:00'), undefined, 'over with the scale-in')
  t.throws(() => rushWindows({ opensAt: '2027-02-08T10:00' }, rush), /with an offset/)
  t.throws(() => rushWindows({ ...calendar, opensAtByYear: { 4: '2027-02-08' } }, rush), /offset/)
})

t.test('openings whose windows would overlap share one, so no scale-in cuts a rush', async (t) => {
  // Year 4 at 10:00, everyone else at 11:30: the first hold would end at 12:00, inside the second.
  const close = {
    opensAt: '2027-02-08T11:30:00+09:00',
    opensAtByYear: { 4: '2027-02-08T10:00:00+09:00' },
  }
  const windows = rushWindows(close, rush)
  t.equal(windows.length, 1)
  t.same(
    [windows[0]!.scaleOutAt, windows[0]!.scaleInAt].map((d) => d.toISOString()),
    ['2027-02-08T00:45:00.000Z', '2027-02-08T04:30:00.000Z'],
    'out before the first opening, in after the last one’s hold',
  )
  t.equal(windows[0]!.openings.length, 2)
})

t.test('the calendar’s openings are its distinct instants, whatever the offsets', async (t) => {
  const openings = registrationOpenings({
    opensAt: '2027-02-09T01:00:00Z',
    opensAtByYear: { 3: '2027-02-09T10:00:00+09:00', 4: '2027-02-08T10:00:00+09:00' },
  })
  t.same(openings, [new Date('2027-02-08T01:00:00Z'), new Date('2027-02-09T01:00:00Z')])
})

t.test('an apply writes the minimum the schedule means at that moment', async (t) => {
  const compute = { ...profiles.ha.compute, rush }
  const at = (instant: string) => scheduledMinimum(calendar, compute, new Date(instant))
  t.equal(at('2027-02-08T08:59:59+09:00'), compute.minSize, 'before the freeze: off-peak')
  t.equal(at('2027-02-08T09:00:00+09:00'), rush.instances, 'from the freeze: the rush minimum')
  t.equal(at('2027-02-08T11:00:00+09:00'), rush.instances, 'during the hold')
  t.equal(at('2027-02-08T12:00:00+09:00'), compute.minSize, 'after the scale-in')
  t.equal(scheduledMinimum(calendar, compute, undefined), compute.minSize, 'without a clock')
})

t.test(
  'the load balancer is reserved from hoursBefore an opening until its hold ends',
  async (t) => {
    const reservation = { capacityUnits: 60, hoursBefore: 72 }
    const at = (instant: string | undefined) =>
      reservedCapacityAt(calendar, rush, reservation, instant ? new Date(instant) : undefined)
    t.equal(at('2027-02-05T09:59:59+09:00'), undefined, 'not a second before the 72 hours')
    t.equal(at('2027-02-05T10:00:00+09:00'), 60)
    t.equal(at('2027-02-09T11:59:59+09:00'), 60, 'through the last hold')
    t.equal(at('2027-02-09T12:00:00+09:00'), undefined, 'released after it')
    t.equal(at(undefined), undefined, 'nothing without a clock')
    t.equal(
      reservedCapacityAt(calendar, rush, undefined, new Date('2027-02-08T10:00:00+09:00')),
      undefined,
    )
  },
)

t.test('the freeze check answers for a profile and an instant, by exit code', async (t) => {
  const cwd = fileURLToPath(new URL('..', import.meta.url))
  const check = (...args: string[]) =>
    promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'src/check-deploy-freeze.ts', ...args],
      {
        cwd,
      },
    ).then(
      ({ stdout }) => ({ code: 0, stdout }),
      (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
    )
  const opening = registrationOpenings(profiles.ha.registration)[0]!.toISOString()
  const frozen = await check('ha', opening)
  t.equal(frozen.code, 3)
  t.match(frozen.stdout, /^deploys to ha are frozen from \S+Z to \S+Z: registration opens at /)
  const open = await check('ha', '2026-06-01T00:00:00Z')
  t.equal(open.code, 0)
  t.match(open.stdout, 'no deploy freeze for ha')
  t.equal((await check('staging')).code, 2)
})
