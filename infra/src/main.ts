// Entry point for `npm run synth` and the cdktf CLI (cdktf.json). The only place that reads the
// environment: SUGANG_PROFILE narrows synthesis to one profile, SUGANG_IMAGE_DIGEST (what the
// deploy pipeline passes) or SUGANG_IMAGE_TAG sets the image the app stack runs; neither: the
// image recorded as released. The clock, too, is read only here: the autoscaling schedule leaves
// out registration openings already past.
import { fileURLToPath } from 'node:url'
import { App } from './cdktf.js'
import {
  isProfileName,
  type PlatformConfig,
  profiles,
  withImageDigest,
  withImageTag,
} from './config/index.js'
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

const app = new App()
const stacks: string[] = []
for (const config of Object.values(profiles)) {
  if (requested !== undefined && config.profile !== requested) continue
  const platform = buildPlatform(app, withSchedule(withImage(config)), { baseDir: infraDir })
  stacks.push(...Object.values(platform).map((stack) => stack.node.id))
}
app.synth()
console.log(`synthesized ${stacks.length} stacks into ${app.outdir}: ${stacks.join(', ')}`)
