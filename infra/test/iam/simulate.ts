// One call against one principal's policies, decided by an IAM policy simulator
// (@cloud-copilot/iam-simulate): Allow and Deny statements, wildcards, condition operators and
// context keys, and the resource types each action is authorized against.
import {
  isWildcardOnlyAction,
  runSimulation,
  runUnsafeSimulation,
} from '@cloud-copilot/iam-simulate'
import type { Call } from './calls.js'
import type { Principal } from './resolve.js'

export type Result = 'Allowed' | 'ImplicitlyDenied' | 'ExplicitlyDenied'

export interface Decision {
  readonly result: Result
  /** The Allow statements that granted it, as `<policy>#<index from 0>`. */
  readonly grantedBy: string[]
}

/** Whether AWS authorizes the action only against `*` (it has no resource-level permissions). */
export async function wildcardOnly(action: string): Promise<boolean> {
  const [service, name] = action.split(':') as [string, string]
  return isWildcardOnlyAction(service, name)
}

export async function decide(principal: Principal, call: Call): Promise<Decision> {
  const where = `${principal.roleName}: ${call.action} on ${call.resource} (${call.by})`
  const resource = (await wildcardOnly(call.action)) ? '*' : call.resource
  if (resource !== '*' && resource.includes('*')) {
    throw new Error(`${where}: name the resource the call touches, not a pattern`)
  }
  // A call that names no resource although the action can name one (PutMetricData outside a
  // dataset): every resource pattern the policies grant is tried.
  const unnamed = resource === '*' && !(await wildcardOnly(call.action))
  const principalAccount = /^arn:aws:iam::(\d{12}):/.exec(principal.arn)![1]!
  const identityPolicies = principal.policies.map((p) => ({ name: p.name, policy: p.document }))
  const simulation = {
    request: {
      principal: principal.arn,
      action: call.action,
      resource: {
        resource,
        // S3 buckets and objects carry no account in their ARNs: they are this account's.
        accountId: resource.split(':')[4] || principalAccount,
      },
      contextVariables: { ...(call.context ?? {}) },
    },
    identityPolicies,
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    ...(call.resourcePolicy ? { resourcePolicy: call.resourcePolicy } : {}),
  }
  if (call.public) {
    // The simulator's resource patterns require an account in the ARN, which AWS's public
    // parameters lack; unvalidated, the caller's own policies decide, as they do on AWS.
    const result = runUnsafeSimulation(
      {
        ...simulation,
        request: { ...simulation.request, resource: { resource, accountId: principalAccount } },
      },
      {},
    )
    return { result, grantedBy: [] }
  }
  const response = await runSimulation(simulation, {})
  if (response.resultType === 'error') {
    throw new Error(
      `${where}: the simulator refused the request: ${JSON.stringify(response.errors)}`,
    )
  }
  if (response.resultType === 'wildcard') {
    if (!unnamed) throw new Error(`${where}: not a single resource`)
    return {
      result: response.overallResult,
      grantedBy: response.results.flatMap((result) =>
        (result.analysis.identityAnalysis?.allowStatements ?? []).map(
          (s) => `${s.policyId}#${s.statement.index() - 1}`,
        ),
      ),
    }
  }
  const ignored = response.result.ignoredContextKeys ?? []
  if (ignored.length > 0) {
    throw new Error(
      `${where}: context keys that do not apply to this request: ${ignored.join(', ')}`,
    )
  }
  const analysis = response.result.analysis
  return {
    result: response.overallResult,
    grantedBy: (analysis.identityAnalysis?.allowStatements ?? []).map(
      (s) => `${s.policyId}#${s.statement.index() - 1}`,
    ),
  }
}
