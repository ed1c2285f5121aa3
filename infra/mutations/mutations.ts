// Breakages the infra tests must catch: each is what a hurried change or a careless review could
// do to the platform, written as one exact edit of one file. `run.ts` applies each in a copy of
// the repository and runs the tests named; test/mutations.test.ts keeps every edit applicable.

export interface Mutation {
  /** Short and unique: how the run names it. */
  readonly id: string
  /** What the edit breaks, in the words of someone reviewing a deploy. */
  readonly breaks: string
  /** The file edited, relative to the repository root. */
  readonly file: string
  /** Text that occurs exactly once in the file... */
  readonly find: string
  /** ...and what it becomes. */
  readonly replace: string
  /** Test files (relative to infra/) of which at least one must fail. */
  readonly tests: readonly string[]
}

/** The file's text with the mutation applied; throws unless `find` occurs exactly once. */
export function applyMutation(text: string, mutation: Mutation): string {
  const at = text.indexOf(mutation.find)
  if (at < 0) throw new Error(`${mutation.id}: "${mutation.find}" is not in ${mutation.file}`)
  if (text.indexOf(mutation.find, at + 1) >= 0) {
    throw new Error(`${mutation.id}: "${mutation.find}" occurs more than once in ${mutation.file}`)
  }
  return text.slice(0, at) + mutation.replace + text.slice(at + mutation.find.length)
}

const DATA = 'infra/src/constructs/data.ts'
const CACHE = 'infra/src/constructs/cache.ts'
const EDGE = 'infra/src/constructs/edge.ts'
const COMPUTE = 'infra/src/constructs/compute.ts'
const NETWORK = 'infra/src/constructs/network.ts'
const STATE = 'infra/src/constructs/state.ts'
const REGISTRY = 'infra/src/constructs/registry.ts'
const PRIVATE_BUCKET = 'infra/src/constructs/private-bucket.ts'
const CI = 'infra/src/constructs/ci.ts'
const MONITORING_HOST = 'infra/src/constructs/monitoring-host.ts'
const SESSION_LOGGING = 'infra/src/constructs/session-logging.ts'
const ALARMS = 'infra/src/constructs/alarms.ts'
const HA = 'infra/src/config/ha.ts'
const SMALL = 'infra/src/config/small.ts'
const PLACEHOLDERS = 'infra/src/config/placeholders.ts'
const USER_DATA = 'infra/src/constructs/app-user-data.ts'
const ACCESS = 'infra/src/constructs/access.ts'
const NOTIFY = 'infra/src/constructs/notify.ts'
const RUSH = 'infra/src/rush.ts'
const ROLL_OUT = 'infra/scripts/roll-out.sh'
const SCAN_GATE = 'infra/scripts/scan-gate.sh'

export const mutations: readonly Mutation[] = [
  // Encryption and exposure.
  {
    id: 'rds-unencrypted',
    breaks: 'the database primary stores its data unencrypted',
    file: DATA,
    find: "storageType: 'gp3',\n      storageEncrypted: true,",
    replace: "storageType: 'gp3',\n      storageEncrypted: false,",
    tests: ['test/data.test.ts', 'test/security.test.ts'],
  },
  {
    id: 'rds-public',
    breaks: 'the database answers from the internet',
    file: DATA,
    find: 'publiclyAccessible: false,',
    replace: 'publiclyAccessible: true,',
    tests: ['test/data.test.ts', 'test/security.test.ts'],
  },
  {
    id: 'rds-no-deletion-protection',
    breaks: 'one careless destroy deletes the database',
    file: DATA,
    find: 'deletionProtection: true,',
    replace: 'deletionProtection: false,',
    tests: ['test/data.test.ts', 'test/security.test.ts'],
  },
  {
    id: 'rds-no-final-snapshot',
    breaks: 'deleting the database keeps no final snapshot',
    file: DATA,
    find: 'skipFinalSnapshot: false,',
    replace: 'skipFinalSnapshot: true,',
    tests: ['test/data.test.ts', 'test/security.test.ts'],
  },
  {
    id: 'redis-no-transit-tls',
    breaks: 'Redis traffic (session tokens) crosses the VPC in clear text',
    file: CACHE,
    find: 'transitEncryptionEnabled: true,',
    replace: 'transitEncryptionEnabled: false,',
    tests: ['test/data.test.ts', 'test/security.test.ts'],
  },
  {
    id: 'redis-at-rest-plain',
    breaks: 'Redis snapshots are stored unencrypted',
    file: CACHE,
    find: "atRestEncryptionEnabled: 'true',",
    replace: "atRestEncryptionEnabled: 'false',",
    tests: ['test/data.test.ts', 'test/security.test.ts'],
  },
  {
    id: 'imds-v1',
    breaks: 'the app instances answer IMDSv1, so an SSRF reads the instance role',
    file: COMPUTE,
    find: "httpTokens: 'required',",
    replace: "httpTokens: 'optional',",
    tests: ['test/compute.test.ts', 'test/security.test.ts'],
  },
  {
    id: 'imds-hop-limit',
    breaks: 'containers reach the instance metadata service and borrow the instance role',
    file: COMPUTE,
    find: 'httpPutResponseHopLimit: 1,',
    replace: 'httpPutResponseHopLimit: 2,',
    tests: ['test/compute.test.ts', 'test/security.test.ts'],
  },
  {
    id: 'app-public-ip',
    breaks: 'app instances get public addresses',
    file: COMPUTE,
    find: "associatePublicIpAddress: 'false',",
    replace: "associatePublicIpAddress: 'true',",
    tests: ['test/compute.test.ts', 'test/security.test.ts'],
  },
  {
    id: 'monitoring-public-ip',
    breaks: 'the monitoring host gets a public address',
    file: MONITORING_HOST,
    find: 'associatePublicIpAddress: false,',
    replace: 'associatePublicIpAddress: true,',
    tests: ['test/ops.test.ts', 'test/security.test.ts'],
  },
  {
    id: 'app-subnet-public-ips',
    breaks: 'a private subnet hands out public addresses',
    file: NETWORK,
    find: 'cidrBlock: subnetCidr(config.vpcCidr, 4 + i),\n        mapPublicIpOnLaunch: false,',
    replace: 'cidrBlock: subnetCidr(config.vpcCidr, 4 + i),\n        mapPublicIpOnLaunch: true,',
    tests: ['test/network.test.ts', 'test/security.test.ts'],
  },
  {
    id: 'buckets-public',
    breaks: 'private buckets may be made public by a policy',
    file: PRIVATE_BUCKET,
    find: 'blockPublicPolicy: true,',
    replace: 'blockPublicPolicy: false,',
    tests: ['test/security.test.ts', 'test/edge.test.ts'],
  },
  {
    id: 'state-unversioned',
    breaks: 'a bad apply overwrites the Terraform state with no way back',
    file: STATE,
    find: "versioningConfiguration: { status: 'Enabled' },",
    replace: "versioningConfiguration: { status: 'Suspended' },",
    tests: ['test/ci.test.ts', 'test/security.test.ts'],
  },
  {
    id: 'ecr-mutable-tags',
    breaks: 'a pushed tag can be overwritten: the deployed bytes are not the scanned ones',
    file: REGISTRY,
    find: "imageTagMutability: 'IMMUTABLE',",
    replace: "imageTagMutability: 'MUTABLE',",
    tests: ['test/data.test.ts'],
  },
  {
    id: 'ecr-no-scan',
    breaks: 'images are not scanned on push: the deploy gate has nothing to read',
    file: REGISTRY,
    find: 'scanOnPush: true',
    replace: 'scanOnPush: false',
    tests: ['test/data.test.ts'],
  },
  {
    id: 'session-logs-plain',
    breaks: 'Session Manager transcripts are kept without the customer key',
    file: SESSION_LOGGING,
    find: 'retentionInDays: props.retentionDays,\n      kmsKeyId: this.key.arn,',
    replace: 'retentionInDays: props.retentionDays,',
    tests: ['test/ops.test.ts', 'test/security.test.ts'],
  },
  // The edge.
  {
    id: 'http-serves',
    breaks: 'port 80 serves the application instead of redirecting to HTTPS',
    file: EDGE,
    find: "redirect: { protocol: 'HTTPS', port: '443', statusCode: 'HTTP_301' },",
    replace: "redirect: { protocol: 'HTTP', port: '80', statusCode: 'HTTP_301' },",
    tests: ['test/edge.test.ts'],
  },
  {
    id: 'waf-detached',
    breaks: 'the web ACL exists but no longer guards the load balancer',
    file: EDGE,
    find: "new Wafv2WebAclAssociation(this, 'web-acl-association', {",
    replace: 'void ({',
    tests: ['test/edge.test.ts'],
  },
  // Delivery: who may deploy.
  {
    id: 'oidc-any-ref',
    breaks: 'any branch or pull request of the repository may assume the deploy role',
    file: CI,
    find: "{ test: 'StringEquals', variable: `${GITHUB_OIDC_HOST}:sub`, values: [subject] },",
    replace:
      "{ test: 'StringLike', variable: `${GITHUB_OIDC_HOST}:sub`, values: [`${subject}*`] },",
    tests: ['test/ci.test.ts'],
  },
  // Availability of the ha profile.
  {
    id: 'ha-db-single-az',
    breaks: 'the ha database primary has no standby: an AZ outage stops registration',
    file: HA,
    find: "    multiAz: true,\n    replicaInstanceClass: 'db.m6g.large',",
    replace: "    multiAz: false,\n    replicaInstanceClass: 'db.m6g.large',",
    tests: ['test/data.test.ts'],
  },
  {
    id: 'ha-redis-no-failover',
    breaks: 'the ha Redis primaries have no automatic failover',
    file: HA,
    find: 'replicasPerShard: 1 },\n    automaticFailover: true,',
    replace: 'replicasPerShard: 1 },\n    automaticFailover: false,',
    tests: ['test/data.test.ts'],
  },
  {
    id: 'ha-redis-cluster-mode-off',
    breaks: 'the ha Redis is one primary again: its failover pauses every course, not a shard’s',
    file: HA,
    find: "topology: { clusterMode: 'enabled', shards: 3, replicasPerShard: 1 },",
    replace: "topology: { clusterMode: 'disabled', nodeCount: 2 },",
    tests: ['test/data.test.ts', 'test/compute.test.ts', 'test/ops.test.ts'],
  },
  {
    id: 'redis-cluster-not-enabled',
    breaks:
      "the cluster-mode group's parameter group leaves cluster mode off: ElastiCache refuses it",
    file: CACHE,
    find: "...(this.clusterMode ? [{ name: 'cluster-enabled', value: 'yes' }] : []),",
    replace: '',
    tests: ['test/data.test.ts'],
  },
  {
    id: 'redis-cluster-given-as-url',
    breaks:
      "ha's instances hand the service the cluster's configuration endpoint as a single node's REDIS_URL",
    file: USER_DATA,
    find: "const redisSetting = p.redisClusterMode ? 'REDIS_CLUSTER_NODES' : 'REDIS_URL'",
    replace: "const redisSetting = 'REDIS_URL'",
    tests: ['test/compute.test.ts'],
  },
  {
    id: 'ha-no-backups',
    breaks: 'the ha database keeps no automated backups',
    file: HA,
    find: 'backupRetentionDays: 14,',
    replace: 'backupRetentionDays: 0,',
    tests: ['test/data.test.ts'],
  },
  {
    id: 'tls-1-0',
    breaks: 'the load balancer accepts TLS 1.0 and 1.1',
    file: HA,
    find: "sslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06',",
    replace: "sslPolicy: 'ELBSecurityPolicy-2016-08',",
    tests: ['test/edge.test.ts'],
  },
  {
    id: 'redis-no-auth',
    breaks: 'Redis accepts connections without its token',
    file: CACHE,
    find: '      authToken: tokenVersion.secretString,\n',
    replace: '',
    tests: ['test/data.test.ts', 'test/security.test.ts'],
  },
  {
    id: 'state-bucket-unencrypted',
    breaks: 'the Terraform state (which names every secret ARN) is stored without KMS',
    file: STATE,
    find: "{ applyServerSideEncryptionByDefault: { sseAlgorithm: 'aws:kms' }, bucketKeyEnabled: true },",
    replace:
      "{ applyServerSideEncryptionByDefault: { sseAlgorithm: 'AES256' }, bucketKeyEnabled: false },",
    tests: ['test/ci.test.ts', 'test/security.test.ts'],
  },
  {
    id: 'no-flow-logs',
    breaks: 'the VPC keeps no flow logs',
    file: NETWORK,
    find: "trafficType: 'ALL',",
    replace: "trafficType: 'REJECT',",
    tests: ['test/network.test.ts', 'test/security.test.ts'],
  },
  {
    id: 'alarms-page-nobody',
    breaks: 'alarms fire into the void: no one is told',
    file: ALARMS,
    find: 'alarmActions: [...(a.extraActions ?? []), this.topic.arn],',
    replace: 'alarmActions: [...(a.extraActions ?? [])],',
    tests: ['test/ops.test.ts'],
  },
  {
    id: 'health-check-readiness',
    breaks: 'the target group health check asks readiness: a Redis blip takes every instance out',
    file: EDGE,
    find: 'path: HEALTH_CHECK_PATH,',
    replace: "path: '/health/ready',",
    tests: ['test/edge.test.ts', 'test/compute.test.ts'],
  },
  // Missed by the first review of the deploy.
  {
    id: 'idle-timeout-10s',
    breaks: 'the load balancer cuts an event stream between two heartbeats',
    file: EDGE,
    find: 'idleTimeout: 60,',
    replace: 'idleTimeout: 10,',
    tests: ['test/relations.test.ts'],
  },
  {
    id: 'small-minimum-zero',
    breaks: 'small runs no instance outside an opening: nobody can log in',
    file: SMALL,
    find: '    minSize: 1,',
    replace: '    minSize: 0,',
    tests: ['test/relations.test.ts'],
  },
  {
    id: 'maintenance-over-backup',
    breaks: "the database's maintenance window overlaps its backup window",
    file: SMALL,
    find: "backupWindow: '17:00-18:00',\n    maintenanceWindow: 'thu:18:00-thu:19:00',",
    replace: "backupWindow: '17:00-18:00',\n    maintenanceWindow: 'thu:17:30-thu:18:30',",
    tests: ['test/relations.test.ts'],
  },
  {
    id: 'maintenance-before-opening',
    breaks: 'Redis may be patched in the small hours of a Monday 10:00 opening',
    file: HA,
    find: "snapshotWindow: '17:00-18:00',\n    maintenanceWindow: 'thu:19:00-thu:20:00',",
    replace: "snapshotWindow: '17:00-18:00',\n    maintenanceWindow: 'sun:19:00-sun:20:00',",
    tests: ['test/relations.test.ts'],
  },
  {
    id: 'public-parameter-grant-deleted',
    breaks: 'the deploy role cannot read the public Amazon Linux parameter every plan reads',
    file: CI,
    find: '          `arn:aws:ssm:${region}::parameter/aws/service/ami-amazon-linux-latest/*`,\n',
    replace: '',
    tests: ['test/iam-by-arn.test.ts'],
  },
  // One per blocker of the first deploy.
  {
    id: 'b1-no-list-bucket',
    breaks:
      "a plan's refresh of the app stack's buckets is denied (HeadBucket needs s3:ListBucket)",
    file: CI,
    find: "          's3:ListBucket',\n        ],\n        resources: props.appBucketPrefixes",
    replace: '        ],\n        resources: props.appBucketPrefixes',
    tests: ['test/iam-by-arn.test.ts'],
  },
  {
    id: 'b2-public-parameter-with-account',
    breaks: "the public AMI parameter's grant carries the account id, which its ARN does not have",
    file: CI,
    find: '`arn:aws:ssm:${region}::parameter/aws/service/ami-amazon-linux-latest/*`',
    replace: '`arn:aws:ssm:${region}:${accountId}:parameter/aws/service/ami-amazon-linux-latest/*`',
    tests: ['test/iam-by-arn.test.ts'],
  },
  {
    id: 'b3-always-open',
    breaks: "the instances start the service without the calendar's registration window",
    file: USER_DATA,
    find: "${settings.join('')}",
    replace: '',
    tests: ['test/relations.test.ts'],
  },
  {
    id: 'b4-reserved-concurrency',
    breaks: "the e-mail Lambda reserves concurrency a new account's quota of 10 refuses",
    file: NOTIFY,
    find: '      memorySize: config.memoryMiB,\n',
    replace: '      memorySize: config.memoryMiB,\n      reservedConcurrentExecutions: 1,\n',
    tests: ['test/notify.test.ts'],
  },
  {
    id: 'b5-example-ami-accepted',
    breaks:
      'the example AMI reaches an apply, which fails 15 minutes later when the group launches',
    file: PLACEHOLDERS,
    find: 'EXAMPLE_AMI.test(compute.amiId),',
    replace: 'false,',
    tests: ['test/relations.test.ts', 'test/synth.test.ts'],
  },
  {
    id: 'b6-smoke-test-by-dns',
    breaks: "small's smoke test asks a name no DNS record points at, and rolls a good release back",
    file: ROLL_OUT,
    find: 'via=(--connect-to "$host:443:$alb:443")',
    replace: 'via=()',
    tests: ['test/roll-out.test.ts'],
  },
  {
    id: 'b7-gate-on-unfixable',
    breaks: 'the scan gate blocks on findings no package fixes, so the first image never deploys',
    file: SCAN_GATE,
    find: "if (f.fixAvailable) return f.fixAvailable !== 'NO'",
    replace: 'return true',
    tests: ['test/scan-gate.test.ts'],
  },
  // Risks for the opening.
  {
    id: 'waf-blocks-unseen',
    breaks: 'WAF blocks students and nobody is paged',
    file: ALARMS,
    find: '      ...RATE_RULES.map((rule) => [rule, 0] as const),\n',
    replace: '',
    tests: ['test/ops.test.ts', 'test/edge.test.ts'],
  },
  {
    id: 'no-alb-reservation',
    breaks: 'no load balancer capacity is reserved ahead of an opening',
    file: RUSH,
    find: 'return holds ? reservation.capacityUnits : undefined',
    replace: 'return undefined',
    tests: ['test/rush.test.ts', 'test/edge.test.ts', 'test/relations.test.ts'],
  },
  {
    id: 'apply-resets-rush-minimum',
    breaks: 'an apply during an opening puts the group back to its off-peak minimum',
    file: COMPUTE,
    find: 'const minSize = scheduledMinimum(props.registration, config, plannedAt(config.rush))',
    replace: 'const minSize = config.minSize',
    tests: ['test/compute.test.ts', 'test/rush.test.ts'],
  },
  {
    id: 'redis-shards-unwatched',
    breaks:
      'only the first node of the ha Redis is watched: a full, hot or lagging shard pages nobody',
    file: ALARMS,
    find: 'for (const suffix of memberSuffixes(topology)) {',
    replace: 'for (const suffix of memberSuffixes(topology).slice(0, 1)) {',
    tests: ['test/ops.test.ts'],
  },
  {
    id: 'redis-replication-lag-unwatched',
    breaks: 'a Redis replica falls behind unseen, and its promotion loses what it missed',
    file: ALARMS,
    find: '      if (replicated) {\n        alarm(`${key}-replication-lag`, {',
    replace: '      if (!replicated) {\n        alarm(`${key}-replication-lag`, {',
    tests: ['test/ops.test.ts'],
  },
  {
    id: 'under-minimum-unseen',
    breaks: 'fewer instances in service than the rush minimum, and no alarm',
    file: ALARMS,
    find: "asgMetric('minimum', 'GroupMinSize', 'Maximum'),",
    replace: "asgMetric('minimum', 'GroupDesiredCapacity', 'Minimum'),",
    tests: ['test/ops.test.ts'],
  },
  {
    id: 'run-instances-any-template',
    breaks: 'the deploy role may launch instances from any launch template in the account',
    file: CI,
    find: "condition: [{ test: 'ArnLike', variable: 'ec2:LaunchTemplate', values: [launchTemplates] }],",
    replace: '',
    tests: ['test/iam-by-arn.test.ts'],
  },
  {
    id: 'b10-auto-rollback-claimed',
    breaks:
      'the instance refresh claims an auto rollback that under Terraform returns to the new version',
    file: COMPUTE,
    find: 'minHealthyPercentage: 100,',
    replace: 'minHealthyPercentage: 100,\n          autoRollback: true,',
    tests: ['test/compute.test.ts'],
  },
  // The operators' admin listener stays off the network.
  {
    id: 'admin-port-published',
    breaks: "the container publishes the operators' admin port on the instance",
    file: USER_DATA,
    find: '-p ${METRICS_PORT}:${METRICS_PORT} --log-driver',
    replace: '-p ${METRICS_PORT}:${METRICS_PORT} -p 9465:9465 --log-driver',
    tests: ['test/admin-listener.test.ts', 'test/relations.test.ts'],
  },
  {
    id: 'admin-listener-on-every-interface',
    breaks: "the operators' admin listener binds every interface of the container",
    file: USER_DATA,
    find: "  echo 'METRICS_HOST=0.0.0.0'\n",
    replace: "  echo 'METRICS_HOST=0.0.0.0'\n  echo 'ADMIN_HOST=0.0.0.0'\n",
    tests: ['test/admin-listener.test.ts', 'test/relations.test.ts'],
  },
  {
    id: 'admin-tokens-unreadable',
    breaks: 'the instances may not read ADMIN_TOKENS, so no operator can pause or throttle',
    file: ACCESS,
    find: 'notResources: [appParametersArn, sessionSecretArn, adminTokensArn],',
    replace: 'notResources: [appParametersArn, sessionSecretArn],',
    tests: ['test/admin-listener.test.ts', 'test/iam-by-arn.test.ts'],
  },
]
