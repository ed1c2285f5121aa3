import {
  S3Bucket,
  S3BucketLifecycleConfiguration,
  S3BucketOwnershipControls,
  S3BucketPolicy,
  S3BucketServerSideEncryptionConfigurationA,
  S3BucketVersioningA,
} from '../aws.js'
import { Construct } from '../cdktf.js'
import type { StateConfig } from '../config/types.js'
import { denyInsecureTransport, policyDocument } from './iam.js'
import { blockPublicAccess } from './private-bucket.js'

export interface StateBucketProps {
  readonly config: StateConfig
}

/**
 * Remote state for every other stack. Locking uses S3's own conditional writes (`use_lockfile`,
 * Terraform ≥ 1.10), so no DynamoDB table is needed.
 */
export class StateBucket extends Construct {
  readonly bucket: S3Bucket

  constructor(scope: Construct, id: string, props: StateBucketProps) {
    super(scope, id)
    const { config } = props
    this.bucket = new S3Bucket(this, 'bucket', {
      bucket: config.bucketName,
      // State is the only record of what exists; destroying it must take a manual step.
      forceDestroy: false,
      lifecycle: { preventDestroy: true },
    })
    blockPublicAccess(this, 'public-access', this.bucket)
    new S3BucketOwnershipControls(this, 'ownership', {
      bucket: this.bucket.id,
      rule: { objectOwnership: 'BucketOwnerEnforced' },
    })
    new S3BucketVersioningA(this, 'versioning', {
      bucket: this.bucket.id,
      versioningConfiguration: { status: 'Enabled' },
    })
    // State holds generated secrets (the Redis AUTH token, SESSION_SECRET): encrypt at rest with KMS.
    new S3BucketServerSideEncryptionConfigurationA(this, 'encryption', {
      bucket: this.bucket.id,
      rule: [
        { applyServerSideEncryptionByDefault: { sseAlgorithm: 'aws:kms' }, bucketKeyEnabled: true },
      ],
    })
    new S3BucketLifecycleConfiguration(this, 'lifecycle', {
      bucket: this.bucket.id,
      rule: [
        {
          id: 'expire-old-state-versions',
          status: 'Enabled',
          filter: [{ prefix: '' }],
          noncurrentVersionExpiration: [{ noncurrentDays: config.noncurrentVersionRetentionDays }],
          abortIncompleteMultipartUpload: [{ daysAfterInitiation: 7 }],
        },
      ],
    })
    new S3BucketPolicy(this, 'policy', {
      bucket: this.bucket.id,
      policy: policyDocument(this, 'policy-document', [denyInsecureTransport(this.bucket.arn)])
        .json,
    })
  }
}
