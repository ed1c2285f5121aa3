import { EXAMPLE_REGISTRATION } from './placeholders.js'
import type { PlatformConfig } from './types.js'

// Thousands of users in the rush minute: two AZs with a NAT gateway each, Multi-AZ MySQL with a
// read replica, Redis in cluster mode (three shards, each a primary with a replica in another AZ
// and automatic failover), and an app tier of 2..10 instances.
// Replace the account id, state bucket, hosted zone and GitHub repository with your own.
export const ha: PlatformConfig = {
  project: 'sugang',
  profile: 'ha',
  accountId: '222222222222',
  region: 'ap-northeast-2',
  tags: { Project: 'sugang', Profile: 'ha', ManagedBy: 'cdktf' },
  // Placeholder: the university's registration calendar. The service's window, the scheduled
  // capacity, the deploy freeze and the load balancer's reservation all follow it.
  registration: EXAMPLE_REGISTRATION,
  state: {
    bucketName: 'sugang-ha-tfstate-222222222222',
    keyPrefix: 'sugang/ha',
    noncurrentVersionRetentionDays: 90,
  },
  network: {
    vpcCidr: '10.30.0.0/16',
    availabilityZones: ['ap-northeast-2a', 'ap-northeast-2c'],
    appAvailabilityZoneCount: 2,
    natGatewayPerAz: true,
    flowLogRetentionDays: 30,
  },
  edge: {
    domainName: 'sugang.example.ac.kr',
    hostedZoneId: 'Z0000000000EXAMPLE',
    sslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06',
    deletionProtection: true,
    rateLimits: {
      // A student polling their queue position every 2 s makes 150 requests per 5 minutes; enqueues
      // and page loads bring it to ~200. 3,000 is 15x that (20x the poll alone) and above the
      // service's own per-student limit (60 per 10 s = 1,800 per 5 min, answered with 429 and
      // Retry-After), so a client that honours 429 never meets this rule; one that ignores it and
      // keeps up 10 req/s is blocked at the edge.
      perSessionPer5Minutes: 3_000,
      // A campus NAT of 3,000 students polling (~200 requests per 5 minutes each: the 2-s poll plus
      // enqueues and page loads) is 600,000, i.e. 2,000 req/s from one address; a single host
      // flooding beyond that is blocked. It is the only per-IP limit, logins included: one tight
      // enough to slow credential stuffing would block a campus or a carrier NAT once ~600 students
      // log in behind it, and the service limits failed logins per account and per address itself
      // (edge.ts).
      perIpBackstopPer5Minutes: 600_000,
    },
    // Placeholder: the university's egress ranges (ask its network team), the same ones the
    // per-address WAF limit above is sized for. Empty, a campus NAT over its failure limit is
    // refused as one client: every student behind it until the window passes.
    campusNetworks: [],
    accessLogRetentionDays: 90,
    wafLogRetentionDays: 90,
    // Not measured on AWS yet. The opening's largest LCU dimension is new connections: the
    // benchmark's 15,000 students, most opening a connection within ~10 s of the opening (the
    // event stream, a reload), are 1,500 a second, and an LCU is 25 a second: 60. Correct it from
    // PeakLCUs in the load test on AWS before the first semester. 60 LCUs cost about $0.48 an hour.
    capacityReservation: { capacityUnits: 60, hoursBefore: 72 },
  },
  compute: {
    // 2 vCPUs and 4 GiB each, compute-optimised, Intel or AMD. An opening asks for six at once
    // in two zones; a second and third type keep a shortage of one from holding it back.
    instanceTypes: ['c6i.large', 'c6a.large', 'c5.large'],
    cpuArchitecture: 'x86_64',
    minSize: 2,
    maxSize: 10,
    desiredCapacity: 2,
    repository: 'service',
    // Placeholder: Amazon Linux 2023 (x86_64) in the profile's region, infra/README.md, "Changing
    // the AMI".
    amiId: 'ami-00000000000000000',
    rootVolumeGiB: 30,
    // docs/benchmarks.md, the rush run of 2026-11-27: two service processes answered 15,000
    // requests in 2.77 s (5,400 req/s) while sharing two cores with MariaDB, Redis and the load
    // generator, so one process (one per instance) serves at least C = 2,700 req/s. Target a
    // quarter of that, 2,700 × 60 × 0.25 ≈ 40,000 requests a minute, so load may quadruple in the
    // ~4 minutes an alarm and a warm start take before new capacity serves.
    requestsPerSecondPerInstance: 2_700,
    targetRequestsPerInstance: 40_000,
    // One service process per instance (app-user-data.ts runs one container) keeps one of the
    // two vCPUs busy: saturated, it reads 50 % (logins' scrypt on the thread pool can add a
    // little). 35 % is 70 % of that core, reachable, with room for the four minutes new
    // capacity takes. (Before, 50 % was reached only by a process already saturated.)
    targetCpuPercent: 35,
    instanceWarmupSeconds: 120,
    // Not measured on AWS yet: dnf install of docker (~40 s), pulling both images (~60 s), the
    // service's start and migrations (~20 s), doubled.
    instanceBootSeconds: 300,
    logRetentionDays: 30,
    nodeExporterImage: 'quay.io/prometheus/node-exporter:v1.9.1',
    rush: {
      // The benchmark's 15,000 students clicking in the opening second, answered within 2 s with
      // every instance at half of C: 15,000 / (2 × 2,700 × 0.5) = 5.6, so 6 (of at most 10).
      // The logins before it need as much (docs/benchmarks.md, capacity model): the same 15,000
      // logging in over the last 10 minutes, most in the last few (the login-storm ramp peaks at
      // 3× the average), are 75 logins/s at the peak; a login at the production scrypt cost is
      // about 0.12 s of a core, so 9 of the 12 vCPUs. Beyond what an instance can check within
      // 5 s, a login is answered 503 LOGIN_BUSY and retried.
      instances: 6,
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
    keepTaggedImages: 50,
    untaggedImageExpiryDays: 7,
  },
  database: {
    instanceClass: 'db.m6g.large',
    engineVersion: '8.4',
    allocatedStorageGiB: 100,
    maxAllocatedStorageGiB: 500,
    multiAz: true,
    replicaInstanceClass: 'db.m6g.large',
    backupRetentionDays: 14,
    // UTC. Backups at 02:00 KST; maintenance Friday 03:00 KST, clear of the day before each
    // opening and of its hold (src/maintenance.ts checks it against the calendar).
    backupWindow: '17:00-18:00',
    maintenanceWindow: 'thu:18:00-thu:19:00',
    monitoringIntervalSeconds: 15,
    performanceInsights: true,
    databaseName: 'sugang',
    masterUsername: 'sugang_admin',
    logRetentionDays: 90,
    passwordVersions: { master: 1, app: 1, notifier: 1 },
  },
  cache: {
    nodeType: 'cache.m7g.large',
    engineVersion: '7.1',
    // Cluster mode: every key of a course shares the hash tag {courseId}, so courses spread over
    // the shards by slot. The capacity model (docs/benchmarks.md, "Capacity model") puts an
    // opening's Redis work for 100,000 students at 0.42 of one engine thread plus the followers,
    // so three shards are headroom and containment (a shard's failover pauses only the courses in
    // its slots), not a measured need; each shard's replica takes over within seconds.
    topology: { clusterMode: 'enabled', shards: 3, replicasPerShard: 1 },
    automaticFailover: true,
    multiAz: true,
    snapshotRetentionDays: 7,
    // UTC, as the database's; an hour after it, so that the two never restart together.
    snapshotWindow: '17:00-18:00',
    maintenanceWindow: 'thu:19:00-thu:20:00',
  },
  notify: {
    bundlePath: '../service/dist/lambda/notify-email',
    senderDomain: 'example.ac.kr',
    fromAddress: 'sugang@example.ac.kr',
    // The zone of senderDomain, for its DKIM records; here the same placeholder as edge.hostedZoneId.
    hostedZoneId: 'Z0000000000EXAMPLE',
    scheduleExpression: 'rate(1 minute)',
    timeoutSeconds: 50,
    memoryMiB: 256,
    logRetentionDays: 90,
  },
  monitoring: {
    instanceType: 't3.medium',
    dataVolumeGiB: 100,
    prometheusImage: 'quay.io/prometheus/prometheus:v3.5.0',
    alertmanagerImage: 'quay.io/prometheus/alertmanager:v0.28.1',
    grafanaImage: 'docker.io/grafana/grafana:12.1.0',
    redisExporterImage: 'docker.io/oliver006/redis_exporter:v1.88.0',
    mysqldExporterImage: 'quay.io/prometheus/mysqld-exporter:v0.20.0',
    alertmanagerSecretsPath: '/sugang-ha/alertmanager',
  },
  ops: {
    alarmEmails: ['sugang-oncall@example.ac.kr'],
    sessionLogRetentionDays: 365,
    monitoringSnapshotsRetained: 14,
  },
  ci: {
    githubOrg: 'example-university',
    githubRepo: 'sugang',
    environment: 'production',
    branch: 'main',
  },
}
