import { DataAwsIamPolicyDocument, type DataAwsIamPolicyDocumentStatement } from '../aws.js'
import type { Construct } from '../cdktf.js'

// Policy documents are built with the aws_iam_policy_document data source rather than
// JSON.stringify: Terraform normalises them (no perpetual diffs from key order) and the tests can
// read each statement as structured data.

export function policyDocument(
  scope: Construct,
  id: string,
  statements: DataAwsIamPolicyDocumentStatement[],
): DataAwsIamPolicyDocument {
  return new DataAwsIamPolicyDocument(scope, id, { statement: statements })
}

export function serviceTrustPolicy(scope: Construct, id: string, service: string): string {
  return policyDocument(scope, id, [
    {
      effect: 'Allow',
      actions: ['sts:AssumeRole'],
      principals: [{ type: 'Service', identifiers: [service] }],
    },
  ]).json
}

/** Denies any request to a bucket that does not use TLS. */
export function denyInsecureTransport(bucketArn: string): DataAwsIamPolicyDocumentStatement {
  return {
    sid: 'DenyInsecureTransport',
    effect: 'Deny',
    actions: ['s3:*'],
    resources: [bucketArn, `${bucketArn}/*`],
    principals: [{ type: '*', identifiers: ['*'] }],
    condition: [{ test: 'Bool', variable: 'aws:SecureTransport', values: ['false'] }],
  }
}
