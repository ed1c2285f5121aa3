import { ha } from './ha.js'
import { small } from './small.js'
import type { PlatformConfig, ProfileName } from './types.js'

export type { PlatformConfig, ProfileName } from './types.js'

export const profiles: Readonly<Record<ProfileName, PlatformConfig>> = { small, ha }

const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/
const IMAGE_DIGEST = /^sha256:[0-9a-f]{64}$/

/** The profile with the image tag the deploy pipeline chose (the commit SHA). */
export function withImageTag(config: PlatformConfig, imageTag: string): PlatformConfig {
  if (!IMAGE_TAG.test(imageTag)) {
    throw new Error(`"${imageTag}" is not a valid container image tag`)
  }
  return { ...config, compute: { ...config.compute, imageTag } }
}

/** The profile running the image with this digest (what the deploy pipeline pushed and scanned). */
export function withImageDigest(config: PlatformConfig, imageDigest: string): PlatformConfig {
  if (!IMAGE_DIGEST.test(imageDigest)) {
    throw new Error(`"${imageDigest}" is not an image digest (sha256: and 64 hex digits)`)
  }
  return { ...config, compute: { ...config.compute, imageDigest } }
}

export function isProfileName(name: string): name is ProfileName {
  return Object.hasOwn(profiles, name)
}
