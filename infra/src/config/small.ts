import { EXAMPLE_REGISTRATION } from './placeholders.js'
import type { PlatformConfig } from './types.js'

// ≤100 users: one AZ for everything that costs per hour, no replicas, the smallest sizes that
// still run the service comfortably. Replace the account id, state bucket, domain, certificate and
// GitHub repository with your own before the first deploy (infra/README.md, "Before the first deploy").
export const small: PlatformConfig = {
  project: 'sugang',
  profile: 'small',
  accountId: '111111111111',
  region: 'ap-northeast-2',
  tags: { Project: 'sugang', Profile: 'small', ManagedBy: 'cdktf' },
  // Placeholder: the university's registration calendar. The service's window, the scheduled
  // capacity, the deploy freeze and the load balancer's reservation all follow it.
  registration: EXAMPLE_REGISTRATION,
  state: {
    bucketName: 'sugang-small-tfstate-111111111111',
    keyPrefix: 'sugang/small',
    noncurrentVersionRetentionDays: 90,
  },
  network: {
    vpcCidr: '10.20.0.0/16',
    availabilityZones: ['ap-northeast-2a', 'ap-northeast-2c'],
    appAvailabilityZoneCount: 1,
    natGatewayPerAz: false,
    flowLogRetentionDays: 14,
  },
  edge: {
    domainName: 'sugang-small.example.ac.kr',
    certificateArn:
      'arn:aws:acm:ap-northeast-2:111111111111:certificate/00000000-0000-0000-0000-000000000000',
    sslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06',
    deletionProtection: false,
    rateLimits: {
      // A student polling their queue position every 2 s makes 150 requests per 5 minutes; enqueues
      // and page loads bring it to ~200. 3,000 is 15x that (20x the poll alone) and above the
      // service's own per-student limit (60 per 10 s = 1,800 per 5 min, answered with 429 and
      // Retry-After), so a client that honours 429 never meets this rule; one that ignores it and
      // keeps up 10 req/s is blocked at the edge.
      perSessionPer5Minutes: 3_000,
      // All ≤ 100 users of this profile behind one address at ~200 requests per 5 minutes each is
      // 20,000; 2.5x that blocks a single host above ~170 req/s sustained, which 1-2 t3.small would
      // otherwise have to absorb. It is the only per-IP limit, logins included: one tight enough to
      // slow credential stuffing would block a campus or a carrier NAT once ~600 students log in
      // behind it, and the service limits failed logins per account and per address itself
      // (edge.ts).
      perIpBackstopPer5Minutes: 50_000,
    },
    // Placeholder: the university's egress ranges (ask its network team), the same ones the
    // per-address WAF limit above is sized for. Empty, a campus NAT over its failure limit is
    // refused as one client: every student behind it until the window passes.
    campusNetworks: [],
    accessLogRetentionDays: 30,
    wafLogRetentionDays: 30,
  },
  compute: {
    // 2 vCPUs and 2 GiB each, burstable (unlimited credits by default): Intel, then AMD.
    instanceTypes: ['t3.small', 't3a.small'],
    cpuArchitecture: 'x86_64',
    minSize: 1,
    maxSize: 2,
    desiredCapacity: 1,
    repository: 'service',
    // Placeholder: Amazon Linux 2023 (x86_64) in the profile's region, infra/README.md, "Changing
    // the AMI".
    amiId: 'ami-00000000000000000',
    rootVolumeGiB: 20,
    // docs/benchmarks.md, the rush run of 2026-11-27: two service processes answered 15,000
    // requests in 2.77 s (5,400 req/s) while sharing two cores with MariaDB, Redis and the load
    // generator, so one process serves at least C = 2,700 req/s on one core. A t3.small sustains
    // 40 % of one core (its baseline; it bursts above): 2,700 × 0.4 = 1,080 req/s. Target a
    // quarter of that, 1,080 × 60 × 0.25 ≈ 16,000 requests a minute, so load may quadruple in the
    // ~4 minutes an alarm and a warm start take before new capacity serves.
    requestsPerSecondPerInstance: 1_080,
    targetRequestsPerInstance: 16_000,
    // One service process per instance (app-user-data.ts runs one container) keeps one of the
    // two vCPUs busy: saturated, it reads 50 % (logins' scrypt on the thread pool can add a
    // little). 35 % is 70 % of that core, reachable, with room for the four minutes new
    // capacity takes. (Before, 60 % was beyond what the process could ever drive the average to.)
    targetCpuPercent: 35,
    instanceWarmupSeconds: 120,
    // Not measured on AWS yet: dnf install of docker (~40 s), pulling both images (~60 s), the
    // service's start and migrations (~20 s), doubled.
    instanceBootSeconds: 300,
    logRetentionDays: 14,
    nodeExporterImage: 'quay.io/prometheus/node-exporter:v1.9.1',
    rush: {
      // ≤ 100 students clicking at once is 100 requests: one instance at 4 % of C. The second is
      // there so that losing an instance during an opening does not stop registration.
      instances: 2,
      // Boot (300 s) + warm-up (120 s) is 7 minutes from a cold launch; 15 leaves room for a
      // launch that fails once. From the warm pool it takes about one.
      leadMinutes: 15,
      // The first two hours of an opening carry nearly all of its requests.
      holdMinutes: 120,
      // An instance refresh may take 30 minutes (scripts/roll-out.sh); it must be over before
      // the scale-out, and nobody should be deploying into the rush.
      freezeBeforeMinutes: 60,
    },
  },
  registry: {
    repositories: ['service'],
    keepTaggedImages: 30,
    untaggedImageExpiryDays: 7,
  },
  database: {
    instanceClass: 'db.t4g.micro',
    engineVersion: '8.4',
    allocatedStorageGiB: 20,
    maxAllocatedStorageGiB: 100,
    multiAz: false,
    backupRetentionDays: 7,
    // UTC. Backups at 02:00 KST; maintenance Friday 03:00 KST, clear of the day before each
    // opening and of its hold (src/maintenance.ts checks it against the calendar).
    backupWindow: '17:00-18:00',
    maintenanceWindow: 'thu:18:00-thu:19:00',
    monitoringIntervalSeconds: 60,
    performanceInsights: false,
    databaseName: 'sugang',
    masterUsername: 'sugang_admin',
    logRetentionDays: 30,
    passwordVersions: { master: 1, app: 1, notifier: 1 },
  },
  cache: {
    nodeType: 'cache.t4g.micro',
    engineVersion: '7.1',
    topology: { clusterMode: 'disabled', nodeCount: 1 },
    automaticFailover: false,
    multiAz: false,
    snapshotRetentionDays: 1,
    // UTC, as the database's; an hour after it, so that the two never restart together.
    snapshotWindow: '17:00-18:00',
    maintenanceWindow: 'thu:19:00-thu:20:00',
  },
  notify: {
    bundlePath: '../service/dist/lambda/notify-email',
    senderDomain: 'example.ac.kr',
    fromAddress: 'sugang@example.ac.kr',
    scheduleExpression: 'rate(1 minute)',
    timeoutSeconds: 50,
    memoryMiB: 256,
    logRetentionDays: 30,
  },
  monitoring: {
    instanceType: 't3.small',
    dataVolumeGiB: 30,
    prometheusImage: 'quay.io/prometheus/prometheus:v3.5.0',
    alertmanagerImage: 'quay.io/prometheus/alertmanager:v0.28.1',
    grafanaImage: 'docker.io/grafana/grafana:12.1.0',
    redisExporterImage: 'docker.io/oliver006/redis_exporter:v1.88.0',
    mysqldExporterImage: 'quay.io/prometheus/mysqld-exporter:v0.20.0',
    alertmanagerSecretsPath: '/sugang-small/alertmanager',
  },
  ops: {
    alarmEmails: ['sugang-oncall@example.ac.kr'],
    sessionLogRetentionDays: 90,
    monitoringSnapshotsRetained: 7,
  },
  ci: {
    githubOrg: 'example-university',
    githubRepo: 'sugang',
    environment: 'production',
    branch: 'main',
  },
}
