// `tsx src/check-deploy-freeze.ts <profile> [<ISO 8601 instant>]`: whether deploys to a profile
// are frozen now (or at the given instant) because registration opens. Exit 0: not frozen;
// 3: frozen, and the window is printed; 2: bad arguments. scripts/roll-out.sh runs it first.
import { isProfileName, profiles } from './config/index.js'
import { freezeAt, utcSeconds } from './rush.js'

const [profile, at] = process.argv.slice(2)
if (profile === undefined || !isProfileName(profile)) {
  console.error(`usage: check-deploy-freeze.ts <${Object.keys(profiles).join('|')}> [<instant>]`)
  process.exit(2)
}
const when = at === undefined ? new Date() : new Date(at)
if (Number.isNaN(when.getTime())) {
  console.error(`"${at}" is not an instant`)
  process.exit(2)
}
const { registration, compute } = profiles[profile]
const window = freezeAt(registration, compute.rush, when)
if (window === undefined) {
  console.log(`no deploy freeze for ${profile} at ${utcSeconds(when)}`)
  process.exit(0)
}
console.log(
  `deploys to ${profile} are frozen from ${utcSeconds(window.freezeFrom)} to ${utcSeconds(window.scaleInAt)}: registration opens at ${utcSeconds(window.opensAt)}`,
)
process.exit(3)
