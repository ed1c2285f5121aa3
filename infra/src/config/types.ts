// The shape of a deployment profile. Every knob that differs between `small` and `ha` lives here,
// so constructs take plain values and never look at the environment.

export type ProfileName = 'small' | 'ha'

export interface StateConfig {
  /** S3 bucket holding every stack's Terraform state (created by the `state` stack). */
  readonly bucketName: string
  /** Key prefix inside the bucket; each stack writes `<prefix>/<stack>.tfstate`. */
  readonly keyPrefix: string
  /** Days a superseded state version is kept, for recovering from a bad apply. */
  readonly noncurrentVersionRetentionDays: number
}

export interface NetworkConfig {
  readonly vpcCidr: string
  /**
   * Always two: an ALB and an RDS subnet group are rejected by AWS with fewer than two AZs, even
   * when everything else runs in one. Public and data subnets exist in both.
   */
  readonly availabilityZones: readonly [string, string]
  /** AZs that run instances (app subnets, NAT gateways, interface endpoints): 1 or 2. */
  readonly appAvailabilityZoneCount: 1 | 2
  /** One NAT gateway per app AZ (survives an AZ outage) or a single shared one (cheaper). */
  readonly natGatewayPerAz: boolean
  readonly flowLogRetentionDays: number
}

export interface EdgeConfig {
  /** Public host name of the service. */
  readonly domainName: string
  /** Route53 public hosted zone; when set, the certificate is DNS-validated there and an alias record is created. */
  readonly hostedZoneId?: string
  /** An existing ACM certificate; when unset, one is requested for `domainName` (needs `hostedZoneId`). */
  readonly certificateArn?: string
  /** ALB TLS policy; must not allow anything below TLS 1.2. */
  readonly sslPolicy: string
  readonly deletionProtection: boolean
  /** The web ACL's rate-based rules (see RateLimitsConfig). */
  readonly rateLimits: RateLimitsConfig
  /**
   * The university's own egress networks (campus NAT, dormitories, labs), CIDRs or addresses,
   * IPv4 or IPv6: the service's LOGIN_CAMPUS_NETWORKS. Hundreds of students share each address,
   * so over its failure limit a campus address is refused per account, not as a whole
   * (docs/security.md). Empty: every address is limited as one client.
   */
  readonly campusNetworks: readonly string[]
  readonly accessLogRetentionDays: number
  readonly wafLogRetentionDays: number
  /**
   * Load balancer capacity reserved ahead of registration (LCU reservation); unset: none. A
   * standing setting, not a schedule: see CapacityReservationConfig.
   */
  readonly capacityReservation?: CapacityReservationConfig
}

/**
 * The ALB scales with its traffic, but not within the second an opening brings; a reservation
 * keeps it at least this large. Synthesis sets it while an opening lies less than `hoursBefore`
 * ahead or its hold is running, and leaves it out otherwise, so the first apply (a deploy or by
 * hand) inside that span requests it and the first one after the last hold releases it
 * (infra/README.md, "Scaling for the rush").
 */
export interface CapacityReservationConfig {
  /** LCUs reserved; the account's quota of reserved LCUs per region is 0 until raised. */
  readonly capacityUnits: number
  /** AWS fills a request within minutes, at worst hours: ask well before the opening. */
  readonly hoursBefore: number
}

/**
 * Requests WAF lets through in any 5-minute window before it blocks, per rule. A campus NAT puts
 * hundreds or thousands of students behind one public address during the rush, so the tight limit
 * is per session; the per-IP limit is sized for the busiest shared address, not for one browser.
 * Logins have no limit of their own here: the service limits them per account and per address
 * (edge.ts, webAclRules, says why). WAF accepts whole numbers from 10 to 2,000,000,000; the edge
 * construct refuses anything else.
 */
export interface RateLimitsConfig {
  /**
   * API requests (URI path under `/api/`) carrying one `sugang_session` cookie. Requests without
   * the cookie are not counted by this rule (WAF skips a request that lacks the key); the
   * backstop counts them.
   */
  readonly perSessionPer5Minutes: number
  /** Every request from one client IP, the login route's included. */
  readonly perIpBackstopPer5Minutes: number
}

export interface ComputeConfig {
  /**
   * Interchangeable instance types, the first preferred: the group launches the next one when
   * EC2 has no capacity of the first in the zone. Every one has the same vCPUs, memory and
   * architecture (compute.ts refuses others), so capacity and scaling targets hold for each.
   */
  readonly instanceTypes: readonly [string, ...string[]]
  /** Must match the architecture the container image is built for. */
  readonly cpuArchitecture: 'x86_64' | 'arm64'
  readonly minSize: number
  readonly maxSize: number
  readonly desiredCapacity: number
  /** ECR repository (key of `registry.repositories`) the service image comes from. */
  readonly repository: string
  /**
   * Image tag to run when no digest is set (SUGANG_IMAGE_TAG). Never set in a profile: with
   * neither a tag nor a digest the app stack runs the image recorded in
   * `/<project>-<profile>/app/released-image`, and refuses to plan while none is recorded.
   */
  readonly imageTag?: string
  /**
   * Image digest to run, `sha256:<64 hex>`; when set, instances pull `<repository>@<digest>` and
   * `imageTag` is ignored. The deploy pipeline sets it (SUGANG_IMAGE_DIGEST), so a deploy and a
   * rollback run exactly the bytes that were scanned, whatever happens to tags.
   */
  readonly imageDigest?: string
  /**
   * The AMI the instances boot, recorded here rather than looked up at plan time, so that only a
   * reviewed commit replaces the fleet (infra/README.md, "Changing the AMI").
   */
  readonly amiId: string
  readonly rootVolumeGiB: number
  /**
   * Requests/s one instance of this type serves: C of docs/benchmarks.md, from which the scaling
   * target and the rush's instances are derived. The opening-day board reads the scheduled
   * capacity, rush.instances × this, from monitoring/prometheus/schedules/<profile>.yml.
   */
  readonly requestsPerSecondPerInstance: number
  /** Target of the ALB requests-per-target scaling policy (requests per minute per instance). */
  readonly targetRequestsPerInstance: number
  /**
   * Target of the average-CPU scaling policy. An instance runs one service process, whose
   * JavaScript runs on one core, so it must lie below one core's share of the instance (50 on
   * 2 vCPUs), or a saturated instance never reaches it; compute.ts refuses anything else.
   */
  readonly targetCpuPercent: number
  readonly instanceWarmupSeconds: number
  /**
   * Seconds from launch until a cold instance (installing docker, pulling both images, starting
   * the service) answers /health/ready: the health-check grace period, and half the time the
   * launch lifecycle hook waits before abandoning the instance.
   */
  readonly instanceBootSeconds: number
  readonly logRetentionDays: number
  readonly nodeExporterImage: string
  /** Capacity scheduled around each registration opening, and the deploy freeze around it. */
  readonly rush: RushConfig
}

/**
 * Capacity around each registration opening (PlatformConfig.registration): reactive scaling
 * reacts minutes after the rush began, so the group is scaled out ahead of each opening, held
 * through it, and given back afterwards. The same windows freeze deploys (scripts/roll-out.sh).
 */
export interface RushConfig {
  /** Instances (minimum and desired) from `leadMinutes` before an opening to `holdMinutes` after. */
  readonly instances: number
  /** At least the boot and the warm-up of an instance, so the capacity serves when the rush starts. */
  readonly leadMinutes: number
  /** After this, minimum and desired return to the profile's `minSize` and `desiredCapacity`. */
  readonly holdMinutes: number
  /**
   * Deploys are refused from this many minutes before an opening until its hold ends; at least
   * `leadMinutes`, so a deploy's instance refresh is not still running when the scale-out starts.
   */
  readonly freezeBeforeMinutes: number
  /**
   * Set by the synthesizing entry point to the current time: actions already past are left out
   * (AWS refuses a one-time action in the past, and runs each once), the group's minimum is the
   * one scheduled at that time, and the load balancer's reservation is decided. Unset: every
   * action is kept, the minimum is the profile's and nothing is reserved.
   */
  readonly scheduleAfter?: string
}

/**
 * When students may register: the one calendar the service's window (REGISTRATION_OPENS_AT,
 * REGISTRATION_OPENS_AT_BY_YEAR, REGISTRATION_CLOSES_AT), the scheduled capacity, the deploy
 * freeze, the load balancer's reservation and the maintenance windows' check all follow. Every
 * instant is ISO 8601 with an explicit offset, e.g. `2027-02-08T10:00:00+09:00`.
 */
export interface RegistrationCalendar {
  /** When registration opens for every grade year without an opening of its own. */
  readonly opensAt: string
  /** Grade years (1-9) that open at their own time, e.g. `{ 4: '2027-02-08T10:00:00+09:00' }`. */
  readonly opensAtByYear?: Readonly<Record<number, string>>
  /** When registration closes for everyone; unset: it stays open. */
  readonly closesAt?: string
}

export interface RegistryConfig {
  /** Repository short names; each becomes `<project>-<profile>/<name>`. */
  readonly repositories: readonly string[]
  /** Tagged images kept per repository; older ones expire. */
  readonly keepTaggedImages: number
  readonly untaggedImageExpiryDays: number
}

export interface DatabaseConfig {
  readonly instanceClass: string
  readonly engineVersion: string
  readonly allocatedStorageGiB: number
  readonly maxAllocatedStorageGiB: number
  readonly multiAz: boolean
  /** Instance class of the read replica; no replica when unset. */
  readonly replicaInstanceClass?: string
  readonly backupRetentionDays: number
  /** Daily, UTC, `hh:mm-hh:mm`; kept clear of every rush window (src/maintenance.ts). */
  readonly backupWindow: string
  /**
   * Weekly, UTC, `ddd:hh:mm-ddd:hh:mm`: when RDS may patch or upgrade and restart MySQL. Kept
   * clear of the backup window and of the day before each opening through its hold.
   */
  readonly maintenanceWindow: string
  readonly monitoringIntervalSeconds: number
  readonly performanceInsights: boolean
  readonly databaseName: string
  readonly masterUsername: string
  readonly logRetentionDays: number
  /**
   * Version of each generated MySQL password (master, the service's user, the e-mail sender's
   * user). Terraform draws a password only when its version is raised, writes it to the user's
   * secret (and, for the master, to RDS) without keeping it in state; infra/README.md, "Secrets",
   * says how to rotate.
   */
  readonly passwordVersions: Readonly<Record<'master' | 'app' | 'notifier', number>>
}

/**
 * How the replication group holds the keys. Cluster mode disabled: one primary holds every key,
 * `nodeCount` nodes in all (1: the primary alone; more: the primary and its replicas), and the
 * service connects to the primary endpoint (REDIS_URL). Cluster mode enabled: `shards` primaries
 * each hold a share of the 16,384 hash slots, each with `replicasPerShard` replicas, and the
 * service finds them through the configuration endpoint (REDIS_CLUSTER_NODES).
 */
export type CacheTopology =
  | { readonly clusterMode: 'disabled'; readonly nodeCount: number }
  | {
      readonly clusterMode: 'enabled'
      readonly shards: number
      readonly replicasPerShard: number
    }

export interface CacheConfig {
  readonly nodeType: string
  readonly engineVersion: string
  readonly topology: CacheTopology
  /** Cluster mode enabled requires it, and a replica in every shard (cache.ts refuses less). */
  readonly automaticFailover: boolean
  readonly multiAz: boolean
  readonly snapshotRetentionDays: number
  /** Daily, UTC, `hh:mm-hh:mm`; kept clear of every rush window (src/maintenance.ts). */
  readonly snapshotWindow: string
  /** Weekly, UTC, `ddd:hh:mm-ddd:hh:mm`; the same rules as the database's. */
  readonly maintenanceWindow: string
}

export interface NotifyConfig {
  /**
   * Directory of the e-mail Lambda's bundle, relative to infra/; `npm run bundle:notify -w
   * service` builds it and synthesis zips it.
   */
  readonly bundlePath: string
  readonly senderDomain: string
  readonly fromAddress: string
  /**
   * Route53 public hosted zone of `senderDomain`; when set, the identity's three DKIM CNAME
   * records are created there. Unset: add them by hand (infra/README.md, "The e-mail Lambda").
   */
  readonly hostedZoneId?: string
  readonly scheduleExpression: string
  readonly timeoutSeconds: number
  readonly memoryMiB: number
  readonly logRetentionDays: number
}

export interface MonitoringConfig {
  readonly instanceType: string
  readonly dataVolumeGiB: number
  readonly prometheusImage: string
  readonly alertmanagerImage: string
  readonly grafanaImage: string
  /** One redis_exporter scrapes every ElastiCache node through its `/scrape` endpoint. */
  readonly redisExporterImage: string
  /**
   * mysqld_exporter, one container per RDS instance; 0.19.0 or later, which can send an IAM
   * authentication token (`enable-cleartext-plugin` in its my.cnf).
   */
  readonly mysqldExporterImage: string
  /**
   * Parameter Store path under which the operator puts Alertmanager's secret files as
   * SecureStrings (the Slack webhook URLs), one parameter per file; never in Terraform state.
   */
  readonly alertmanagerSecretsPath: string
}

/** What pages when the monitoring host cannot, session logging and backups (the `ops` stack). */
export interface OperationsConfig {
  /**
   * Addresses subscribed to the alarm topic by e-mail; each confirms once from the message SNS
   * sends. Slack goes through AWS Chatbot, set up by hand (infra/README.md, "Alarms").
   */
  readonly alarmEmails: readonly string[]
  /** Days Session Manager shell transcripts are kept in CloudWatch Logs. */
  readonly sessionLogRetentionDays: number
  /**
   * The account already has Session Manager preferences in the region (the
   * `SSM-SessionManagerRunShell` document exists: someone used Session Manager's console
   * preferences). Creating the document would then fail with `DocumentAlreadyExists`; set, the
   * `ops` stack imports it and rewrites it. `aws ssm describe-document --name
   * SSM-SessionManagerRunShell` answers which (infra/README.md, "Reaching instances with SSM").
   */
  readonly sessionPreferencesExist?: boolean
  /** Daily snapshots of the monitoring host's volume that are kept. */
  readonly monitoringSnapshotsRetained: number
}

export interface CiConfig {
  readonly githubOrg: string
  readonly githubRepo: string
  /**
   * The GitHub environment the deploy job runs in; only jobs of that environment may assume the
   * deploy role. Its deployment-branch rule must admit `branch` alone and it should require a
   * reviewer (README.md, "Deploying to AWS").
   */
  readonly environment: string
  /** The only branch the deploy workflow deploys from (the environment's deployment branch). */
  readonly branch: string
  /** An account holds one GitHub OIDC provider; set this when another stack already created it. */
  readonly existingOidcProviderArn?: string
}

export interface PlatformConfig {
  readonly project: string
  readonly profile: ProfileName
  /** Terraform refuses to touch any other account: a guard against applying to the wrong one. */
  readonly accountId: string
  readonly region: string
  readonly tags: Readonly<Record<string, string>>
  /** The registration calendar (RegistrationCalendar). */
  readonly registration: RegistrationCalendar
  readonly state: StateConfig
  readonly network: NetworkConfig
  readonly edge: EdgeConfig
  readonly compute: ComputeConfig
  readonly registry: RegistryConfig
  readonly database: DatabaseConfig
  readonly cache: CacheConfig
  readonly notify: NotifyConfig
  readonly monitoring: MonitoringConfig
  readonly ops: OperationsConfig
  readonly ci: CiConfig
}
