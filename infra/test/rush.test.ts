// Registration openings: the windows the schedule and the deploy freeze are built from, and the
// freeze check scripts/roll-out.sh runs.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'
import { profiles } from '../src/config/index.js'
import { freezeAt, rushWindows } from '../src/rush.js'

const rush = {
  openings: ['2027-02-09T10:00:00+09:00', '2027-02-08T10:00:00+09:00'],
  instances: 6,
  leadMinutes: 15,
  holdMinutes: 120,
  freezeBeforeMinutes: 60,
}

t.test(
  'each opening has a scale-out before, a scale-in after and a freeze around it',
  async (t) => {
    const [first] = rushWindows(rush)
    t.same(
      Object.fromEntries(Object.entries(first!).map(([k, v]) => [k, (v as Date).toISOString()])),
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
  t.equal(freezeAt(rush, new Date('2027-02-08T08:59:59+09:00')), undefined, 'not a second early')
  t.ok(freezeAt(rush, new Date('2027-02-08T09:00:00+09:00')), 'from an hour before')
  t.ok(freezeAt(rush, new Date('2027-02-08T11:59:59+09:00')), 'through the hold')
  t.equal(
    freezeAt(rush, new Date('2027-02-08T12:00:00+09:00')),
    undefined,
    'over with the scale-in',
  )
  t.throws(() => rushWindows({ ...rush, openings: ['2027-02-08T10:00'] }), /with an offset/)
})

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
  const opening = profiles.ha.compute.rush.openings[0]!
  const frozen = await check('ha', opening)
  t.equal(frozen.code, 3)
  t.match(frozen.stdout, /^deploys to ha are frozen from \S+Z to \S+Z: registration opens at /)
  const open = await check('ha', '2026-06-01T00:00:00Z')
  t.equal(open.code, 0)
  t.match(open.stdout, 'no deploy freeze for ha')
  t.equal((await check('staging')).code, 2)
})
