// The committed profiles are examples: their account ids, names, addresses, AMI and calendar are
// placeholders an adopter replaces (infra/README.md, "Before the first deploy"). Synthesis for a
// deploy (src/main.ts) refuses a profile that still holds one, naming each, instead of letting an
// apply fail on it fifteen minutes in. The rules recognise the example values by their shape, so
// a value copied from another example is caught too.
import type { PlatformConfig, RegistrationCalendar } from './types.js'

/** The example calendar both committed profiles carry: year 4 first, then year 3, then all. */
export const EXAMPLE_REGISTRATION: RegistrationCalendar = {
  opensAt: '2027-02-10T10:00:00+09:00',
  opensAtByYear: { 4: '2027-02-08T10:00:00+09:00', 3: '2027-02-09T10:00:00+09:00' },
  closesAt: '2027-02-12T18:00:00+09:00',
}

export interface Placeholder {
  /** Where in the profile, e.g. `compute.amiId`. */
  readonly field: string
  readonly value: string
  /** What to put there instead. */
  readonly fill: string
}

/** Twelve equal digits (111111111111) or AWS's documentation account. */
const EXAMPLE_ACCOUNT = /(\d)\1{11}|123456789012/
const EXAMPLE_AMI = /^ami-0+$/
const EXAMPLE_CERTIFICATE = /certificate\/0{8}-0{4}-0{4}-0{4}-0{12}$/
const EXAMPLE_ZONE = /EXAMPLE/i
const EXAMPLE_NAME = /(^|[-_.])example([-_.]|$)/i

/** A host name under a name reserved for examples (RFC 2606), e.g. `sugang.example.ac.kr`. */
function exampleHost(host: string): boolean {
  const labels = host.toLowerCase().split('.')
  return labels.includes('example') || ['test', 'invalid', 'localhost'].includes(labels.at(-1)!)
}

const exampleAddress = (address: string) => exampleHost(address.split('@').at(-1) ?? '')

function sameCalendar(a: RegistrationCalendar, b: RegistrationCalendar): boolean {
  const instants = (c: RegistrationCalendar) =>
    JSON.stringify([
      new Date(c.opensAt).getTime(),
      c.closesAt === undefined ? null : new Date(c.closesAt).getTime(),
      Object.entries(c.opensAtByYear ?? {})
        .map(([year, at]) => [Number(year), new Date(at).getTime()])
        .sort(([x], [y]) => x! - y!),
    ])
  return instants(a) === instants(b)
}

/** Every placeholder the profile still holds, in the order the profile lists its fields. */
export function placeholdersIn(config: PlatformConfig): Placeholder[] {
  const found: Placeholder[] = []
  const check = (field: string, value: string | undefined, isExample: boolean, fill: string) => {
    if (value !== undefined && isExample) found.push({ field, value, fill })
  }
  const { edge, compute, notify, ops, ci } = config
  check(
    'accountId',
    config.accountId,
    EXAMPLE_ACCOUNT.test(config.accountId),
    'your AWS account id',
  )
  check(
    'registration',
    JSON.stringify(config.registration),
    sameCalendar(config.registration, EXAMPLE_REGISTRATION),
    "the university's registration calendar: opensAt, opensAtByYear, closesAt",
  )
  check(
    'state.bucketName',
    config.state.bucketName,
    EXAMPLE_ACCOUNT.test(config.state.bucketName),
    `a globally unique bucket name, e.g. sugang-${config.profile}-tfstate-<account id>`,
  )
  check(
    'edge.domainName',
    edge.domainName,
    exampleHost(edge.domainName),
    'the host name students open',
  )
  check(
    'edge.hostedZoneId',
    edge.hostedZoneId,
    EXAMPLE_ZONE.test(edge.hostedZoneId ?? ''),
    'the Route53 public hosted zone of edge.domainName',
  )
  check(
    'edge.certificateArn',
    edge.certificateArn,
    EXAMPLE_ACCOUNT.test(edge.certificateArn ?? '') ||
      EXAMPLE_CERTIFICATE.test(edge.certificateArn ?? ''),
    "an ACM certificate for edge.domainName in the profile's region",
  )
  check(
    'compute.amiId',
    compute.amiId,
    EXAMPLE_AMI.test(compute.amiId),
    'the Amazon Linux 2023 AMI of the region (infra/README.md, "Changing the AMI")',
  )
  check(
    'notify.senderDomain',
    notify.senderDomain,
    exampleHost(notify.senderDomain),
    'the domain the confirmation e-mails come from',
  )
  check(
    'notify.fromAddress',
    notify.fromAddress,
    exampleAddress(notify.fromAddress),
    'the From address of the confirmation e-mails',
  )
  check(
    'notify.hostedZoneId',
    notify.hostedZoneId,
    EXAMPLE_ZONE.test(notify.hostedZoneId ?? ''),
    'the Route53 public hosted zone of notify.senderDomain',
  )
  ops.alarmEmails.forEach((email, i) =>
    check(`ops.alarmEmails[${i}]`, email, exampleAddress(email), 'an address the alarms page'),
  )
  check(
    'ci.githubOrg',
    ci.githubOrg,
    EXAMPLE_NAME.test(ci.githubOrg),
    'the GitHub owner of the repository that deploys',
  )
  return found
}

/**
 * One message naming every placeholder of every profile given, or undefined when there is none.
 */
export function placeholderRefusal(configs: readonly PlatformConfig[]): string | undefined {
  const lines: string[] = []
  for (const config of configs) {
    const found = placeholdersIn(config)
    if (found.length === 0) continue
    lines.push(
      `Profile ${config.profile} still holds example values; fill them in infra/src/config/${config.profile}.ts:`,
      ...found.map((p) => `  - ${p.field} (${p.value}): ${p.fill}`),
    )
  }
  return lines.length === 0 ? undefined : lines.join('\n')
}
