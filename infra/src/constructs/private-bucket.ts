import { S3BucketPublicAccessBlock, type S3Bucket } from '../aws.js'
import type { Construct } from '../cdktf.js'

/** Every bucket of the platform is private: no public ACL or policy, whatever a later change adds. */
export function blockPublicAccess(
  scope: Construct,
  id: string,
  bucket: S3Bucket,
): S3BucketPublicAccessBlock {
  return new S3BucketPublicAccessBlock(scope, id, {
    bucket: bucket.id,
    blockPublicAcls: true,
    blockPublicPolicy: true,
    ignorePublicAcls: true,
    restrictPublicBuckets: true,
  })
}
