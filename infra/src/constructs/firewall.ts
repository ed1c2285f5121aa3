import { VpcSecurityGroupIngressRule } from '../aws.js'
import type { Construct } from '../cdktf.js'

export interface AllowedSource {
  /** Short name used in the rule's id and description, e.g. `app`. */
  readonly name: string
  readonly securityGroupId: string
}

/** Opens one TCP port of `securityGroupId` to each named source group, and to nothing else. */
export function allowFrom(
  scope: Construct,
  securityGroupId: string,
  port: number,
  sources: readonly AllowedSource[],
): VpcSecurityGroupIngressRule[] {
  return sources.map(
    (source) =>
      new VpcSecurityGroupIngressRule(scope, `ingress-${port}-from-${source.name}`, {
        securityGroupId,
        description: `${port} from ${source.name}`,
        ipProtocol: 'tcp',
        fromPort: port,
        toPort: port,
        referencedSecurityGroupId: source.securityGroupId,
      }),
  )
}
