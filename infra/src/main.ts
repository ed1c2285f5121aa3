// Entry point for `npm run synth` and the cdktf CLI (cdktf.json). The only place that reads the
// environment: SUGANG_PROFILE narrows synthesis to one profile, SUGANG_IMAGE_DIGEST (what the
// deploy pipeline passes) or SUGANG_IMAGE_TAG sets the image the app stack runs; neither: the
// image recorded as released. The clock, too, is read only here: the autoscaling schedule leaves
// out registration openings already past, and the group's minimum and the load balancer's
// reservation follow the calendar at this moment.
//
// A profile that still holds an example value (src/config/placeholders.ts) is refused, each one
// named. SUGANG_ALLOW_PLACEHOLDERS=1 synthesizes the committed examples all the same: for the
// checks that read the output (CI, the tests), never for a deploy.
import { fileURLToPath } from 'node:url'
import { App } from './cdktf.js'
import {
  isProfileName,
  type PlatformConfig,
  profiles,
  withImageDigest,
  withImageTag,
} from './config/index.js'
import { placeholderRefusal } from './config/placeholders.js'
import { buildPlatform } from './platform.js'

const infraDir = fileURLToPath(new URL('..', import.meta.url))
const requested = process.env.SUGANG_PROFILE
if (requested !== undefined && !isProfileName(requested)) {
  throw new Error(`SUGANG_PROFILE must be one of ${Object.keys(profiles).join(', ')}`)
}
const imageTag = process.env.SUGANG_IMAGE_TAG
const imageDigest = process.env.SUGANG_IMAGE_DIGEST

const now = new Date()

function withImage(config: PlatformConfig): PlatformConfig {
  const tagged = imageTag ? withImageTag(config, imageTag) : config
  return imageDigest ? withImageDigest(tagged, imageDigest) : tagged
}

function withSchedule(config: PlatformConfig): PlatformConfig {
  const rush = { ...config.compute.rush, scheduleAfter: now.toISOString() }
  return { ...config, compute: { ...config.compute, rush } }
}

const selected = Object.values(profiles).filter(
  (config) => requested === undefined || config.profile === requested,
)
const refusal = placeholderRefusal(selected)
if (refusal !== undefined && process.env.SUGANG_ALLOW_PLACEHOLDERS !== '1') {
  const narrow =
    requested === undefined
      ? '\nSUGANG_PROFILE=<profile> synthesizes only the profile you deploy.'
      : ''
  console.error(`${refusal}${narrow}\n(infra/README.md, "Before the first deploy")`)
  process.exit(1)
}

const app = new App()
const stacks: string[] = []
for (const config of selected) {
  const platform = buildPlatform(app, withSchedule(withImage(config)), { baseDir: infraDir })
  stacks.push(...Object.values(platform).map((stack) => stack.node.id))
}
app.synth()
console.log(`synthesized ${stacks.length} stacks into ${app.outdir}: ${stacks.join(', ')}`)
