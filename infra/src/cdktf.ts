// The only module that names the CDK for Terraform core packages. HashiCorp deprecated CDKTF on
// 2025-12-10 and its community continuation ships under new package names (see
// docs/decisions/0001-cdktf-for-infrastructure.md); moving there is a change to this file and
// aws.ts, not to every construct.
export {
  Annotations,
  App,
  AssetType,
  Fn,
  LocalBackend,
  S3Backend,
  TerraformAsset,
  TerraformLocal,
  TerraformOutput,
  TerraformStack,
  Testing,
  Token,
} from 'cdktf'
export { Construct } from 'constructs'
