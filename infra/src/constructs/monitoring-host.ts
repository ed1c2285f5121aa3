import {
  DataAwsSsmParameter,
  IamInstanceProfile,
  IamRole,
  IamRolePolicy,
  IamRolePolicyAttachment,
  Instance,
  S3Bucket,
  S3BucketPolicy,
  S3BucketServerSideEncryptionConfigurationA,
  S3BucketVersioningA,
} from '../aws.js'
import { Construct } from '../cdktf.js'
import type { CacheTopology, MonitoringConfig, ProfileName } from '../config/types.js'
import { SSM_MANAGED_INSTANCE_CORE } from './access.js'
import { METRICS_PORT, NODE_EXPORTER_PORT } from './app-user-data.js'
import { memberSuffixes } from './cache.js'
import { amazonLinuxParameter } from './compute.js'
import { allowFrom } from './firewall.js'
import { denyInsecureTransport, policyDocument, serviceTrustPolicy } from './iam.js'
import {
  EXPORTER_GROUPS,
  EXPORTER_PORTS,
  MONITORING_DATABASE_USER,
  MONITORING_TARGETS_PATHS,
  monitoringTargetsScript,
  MYSQLD_EXPORTER_MOUNT,
  REDIS_EXPORTER_MOUNT,
} from './monitoring-exporters.js'
import { blockPublicAccess } from './private-bucket.js'

export interface MonitoringHostProps {
  readonly name: string
  /** Whose opening schedule Prometheus loads (monitoring/prometheus/schedules/<profile>.yml). */
  readonly profile: ProfileName
  readonly region: string
  readonly accountId: string
  readonly config: MonitoringConfig
  readonly subnetId: string
  readonly securityGroupId: string
  /** The app instances' group: node exporter and service metrics open to this host only. */
  readonly appSecurityGroupId: string
  /** Grafana's admin password (the data stack's `<prefix>/grafana/admin-password`). */
  readonly grafanaAdminSecretArn: string
  /** The Redis the exporter scrapes, node by node. */
  readonly cache: {
    readonly replicationGroupId: string
    readonly topology: CacheTopology
    /** The AUTH token's secret. */
    readonly authSecretArn: string
  }
  /** The MySQL instances the exporters scrape, as MONITORING_DATABASE_USER with IAM tokens. */
  readonly database: {
    readonly primary: MonitoredDatabase
    readonly replica?: MonitoredDatabase
  }
}

export interface MonitoredDatabase {
  readonly address: string
  /** The instance's DbiResourceId: IAM authentication tokens are granted by it. */
  readonly resourceId: string
}

/**
 * Files Alertmanager reads its Slack webhooks from (`api_url_file` in
 * monitoring/alertmanager/alertmanager.yml), each filled from `<alertmanagerSecretsPath>/<file>`.
 */
export const ALERTMANAGER_SECRET_FILES = [
  'slack-critical-webhook-url',
  'slack-warnings-webhook-url',
] as const

/**
 * Where the host keeps its profile's opening schedule (monitoring/prometheus/schedules/<profile>.yml,
 * copied from the synced workspace), mounted into Prometheus at /etc/prometheus/schedule.
 */
export const MONITORING_SCHEDULE_DIR = '/etc/sugang-monitoring/prometheus-schedule'

/** Ports on the monitoring host; all bound to 127.0.0.1 and reached through SSM port forwarding. */
export const MONITORING_PORTS = { grafana: 3000, prometheus: 9090, alertmanager: 9093 } as const

/** Where the RDS CA bundle comes from: the mysqld exporters verify the server with it. */
export const RDS_CA_BUNDLE_URL = 'https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem'

/**
 * Alertmanager routes the always-firing `Watchdog` alert (monitoring/prometheus/rules/watchdog.yml)
 * every minute to a relay on the host, on `port`, which puts one data point of `metricName` into
 * CloudWatch; the ops stack's alarm pages when they stop. A namespace of its own, so that the
 * host's permission to write metrics cannot fake the e-mail Lambda's.
 */
export const WATCHDOG_HEARTBEAT = {
  alertname: 'Watchdog',
  port: 9095,
  namespace: 'sugang/monitoring',
  metricName: 'WatchdogHeartbeat',
} as const

/** The tag Data Lifecycle Manager finds the monitoring host's volume by (monitoring-backups.ts). */
export function monitoringBackupTag(name: string): { key: string; value: string } {
  return { key: 'sugang:backup', value: `${name}-monitoring` }
}

/**
 * The Watchdog relay: a loopback HTTP receiver for Alertmanager's webhook that turns each
 * notification carrying the firing Watchdog alert into a CloudWatch data point. Python and the
 * AWS CLI come with Amazon Linux 2023. Arguments: region, namespace, metric name, port.
 */
export function watchdogRelayScript(): string {
  return `#!/usr/bin/python3
import json
import subprocess
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

REGION, NAMESPACE, METRIC, PORT = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])


def watchdog_firing(body):
    alerts = body.get("alerts", []) if isinstance(body, dict) else []
    return any(
        isinstance(a, dict)
        and a.get("status") == "firing"
        and (a.get("labels") or {}).get("alertname") == "${WATCHDOG_HEARTBEAT.alertname}"
        for a in alerts
    )


class Relay(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        try:
            firing = watchdog_firing(json.loads(self.rfile.read(length)))
        except ValueError:
            firing = False
        if not firing:
            self.send_response(400)
        else:
            put = subprocess.run(
                ["aws", "cloudwatch", "put-metric-data", "--region", REGION,
                 "--namespace", NAMESPACE, "--metric-name", METRIC, "--value", "1", "--unit", "Count"],
                check=False,
            )
            # A failed put is Alertmanager's to retry and to count as a failed notification.
            self.send_response(200 if put.returncode == 0 else 502)
        self.end_headers()

    def log_message(self, format, *args):
        pass


HTTPServer(("127.0.0.1", PORT), Relay).serve_forever()
`
}

/**
 * One private instance running Prometheus, Alertmanager and Grafana from the files of the
 * monitoring workspace, which the operator syncs to the config bucket (infra/README.md).
 * A single instance, not an ASG of one: Prometheus keeps its TSDB on the root volume.
 */
export class MonitoringHost extends Construct {
  readonly instance: Instance
  readonly role: IamRole
  readonly configBucket: S3Bucket

  constructor(scope: Construct, id: string, props: MonitoringHostProps) {
    super(scope, id)
    const { name, config } = props

    const sources = [{ name: 'monitoring', securityGroupId: props.securityGroupId }]
    allowFrom(this, props.appSecurityGroupId, NODE_EXPORTER_PORT, sources)
    allowFrom(this, props.appSecurityGroupId, METRICS_PORT, sources)

    this.configBucket = new S3Bucket(this, 'config', { bucketPrefix: `${name}-monitoring-` })
    blockPublicAccess(this, 'config-public-access', this.configBucket)
    new S3BucketVersioningA(this, 'config-versioning', {
      bucket: this.configBucket.id,
      versioningConfiguration: { status: 'Enabled' },
    })
    new S3BucketServerSideEncryptionConfigurationA(this, 'config-encryption', {
      bucket: this.configBucket.id,
      rule: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: 'AES256' } }],
    })
    new S3BucketPolicy(this, 'config-policy', {
      bucket: this.configBucket.id,
      policy: policyDocument(this, 'config-policy-document', [
        denyInsecureTransport(this.configBucket.arn),
      ]).json,
    })

    const alertmanagerSecretsArn = `arn:aws:ssm:${props.region}:${props.accountId}:parameter${config.alertmanagerSecretsPath}/*`
    const elasticache = `arn:aws:elasticache:${props.region}:${props.accountId}`
    const { cache, database } = props
    const databases = [database.primary, ...(database.replica ? [database.replica] : [])]

    const role = (this.role = new IamRole(this, 'role', {
      name: `${name}-monitoring`,
      description:
        'sugang monitoring host: SSM, EC2 service discovery, Redis and MySQL, its config and secrets',
      assumeRolePolicy: serviceTrustPolicy(this, 'trust', 'ec2.amazonaws.com'),
    }))
    new IamRolePolicyAttachment(this, 'ssm-core', {
      role: role.name,
      policyArn: SSM_MANAGED_INSTANCE_CORE,
    })
    new IamRolePolicy(this, 'policy', {
      name: 'sugang-monitoring',
      role: role.id,
      policy: policyDocument(this, 'permissions', [
        {
          sid: 'Ec2ServiceDiscovery',
          effect: 'Allow',
          actions: ['ec2:DescribeInstances', 'ec2:DescribeAvailabilityZones'],
          resources: ['*'],
        },
        {
          sid: 'ReadConfig',
          effect: 'Allow',
          actions: ['s3:ListBucket', 's3:GetObject'],
          resources: [this.configBucket.arn, `${this.configBucket.arn}/*`],
        },
        {
          sid: 'GrafanaAdminPassword',
          effect: 'Allow',
          actions: ['secretsmanager:GetSecretValue'],
          resources: [props.grafanaAdminSecretArn],
        },
        {
          // The target writer lists the nodes of this replication group, and no other.
          sid: 'RedisNodes',
          effect: 'Allow',
          actions: ['elasticache:DescribeReplicationGroups'],
          resources: [`${elasticache}:replicationgroup:${cache.replicationGroupId}`],
        },
        // With cluster mode, AWS gives a member's address only per cache cluster.
        ...(cache.topology.clusterMode === 'enabled'
          ? [
              {
                sid: 'RedisNodeAddresses',
                effect: 'Allow',
                actions: ['elasticache:DescribeCacheClusters'],
                resources: memberSuffixes(cache.topology).map(
                  (suffix) => `${elasticache}:cluster:${cache.replicationGroupId}${suffix}`,
                ),
              },
            ]
          : []),
        {
          sid: 'RedisAuthToken',
          effect: 'Allow',
          actions: ['secretsmanager:GetSecretValue'],
          resources: [cache.authSecretArn],
        },
        {
          // IAM authentication tokens for the exporters' user, on these instances only.
          sid: 'MysqlMonitoringUser',
          effect: 'Allow',
          actions: ['rds-db:connect'],
          resources: databases.map(
            (db) =>
              `arn:aws:rds-db:${props.region}:${props.accountId}:dbuser:${db.resourceId}/${MONITORING_DATABASE_USER}`,
          ),
        },
        {
          sid: 'WatchdogHeartbeat',
          effect: 'Allow',
          actions: ['cloudwatch:PutMetricData'],
          resources: ['*'],
          condition: [
            {
              test: 'StringEquals',
              variable: 'cloudwatch:namespace',
              values: [WATCHDOG_HEARTBEAT.namespace],
            },
          ],
        },
        {
          sid: 'AlertmanagerSecrets',
          effect: 'Allow',
          actions: ['ssm:GetParameter'],
          resources: [alertmanagerSecretsArn],
        },
        {
          // AmazonSSMManagedInstanceCore lets the SSM agent read every parameter of the account;
          // this host reads its webhooks and nothing else (not SESSION_SECRET).
          sid: 'NoOtherParameters',
          effect: 'Deny',
          actions: ['ssm:GetParameter', 'ssm:GetParameters', 'ssm:GetParametersByPath'],
          notResources: [alertmanagerSecretsArn],
        },
      ]).json,
    })
    const profile = new IamInstanceProfile(this, 'profile', {
      name: `${name}-monitoring`,
      role: role.name,
    })

    const ami = new DataAwsSsmParameter(this, 'ami', { name: amazonLinuxParameter('x86_64') })
    this.instance = new Instance(this, 'instance', {
      ami: ami.value,
      instanceType: config.instanceType,
      subnetId: props.subnetId,
      vpcSecurityGroupIds: [props.securityGroupId],
      associatePublicIpAddress: false,
      iamInstanceProfile: profile.name,
      monitoring: true,
      metadataOptions: {
        httpEndpoint: 'enabled',
        httpTokens: 'required',
        httpPutResponseHopLimit: 1,
      },
      rootBlockDevice: {
        volumeSize: config.dataVolumeGiB,
        volumeType: 'gp3',
        encrypted: true,
        deleteOnTermination: false,
      },
      userData: renderMonitoringUserData({
        region: props.region,
        profile: props.profile,
        configBucket: this.configBucket.bucket,
        grafanaAdminSecretArn: props.grafanaAdminSecretArn,
        config,
        replicationGroupId: cache.replicationGroupId,
        redisAuthSecretArn: cache.authSecretArn,
        primaryHost: database.primary.address,
        replicaHost: database.replica?.address,
      }),
      // A new AMI must not replace the host and its metrics history behind the operator's back.
      lifecycle: { ignoreChanges: ['ami', 'user_data'] },
      tags: { Name: `${name}-monitoring`, 'sugang:role': 'monitoring' },
      volumeTags: {
        Name: `${name}-monitoring`,
        [monitoringBackupTag(name).key]: monitoringBackupTag(name).value,
      },
    })
  }
}

interface MonitoringUserDataProps {
  readonly region: string
  readonly profile: ProfileName
  readonly configBucket: string
  readonly grafanaAdminSecretArn: string
  readonly config: MonitoringConfig
  readonly replicationGroupId: string
  readonly redisAuthSecretArn: string
  readonly primaryHost: string
  readonly replicaHost?: string
}

// This script carries Terraform references (the bucket, the secret ARN), so Terraform interpolates
// it: the shell below never writes `$` or `%` followed by a brace.
function renderMonitoringUserData(p: MonitoringUserDataProps): string {
  const { grafana, prometheus, alertmanager } = MONITORING_PORTS
  const paths = MONITORING_TARGETS_PATHS
  // The exporters start once the target writer has written their credentials (they refuse to
  // start without them), and it runs again at every start of one.
  const afterTargets = 'sugang-monitoring-targets.service'
  const unit = (service: string, description: string, run: string, after = '') => `
cat >/etc/systemd/system/${service}.service <<'UNIT'
[Unit]
Description=${description}
After=docker.service sugang-monitoring-config.service${after ? ` ${after}` : ''}
Requires=docker.service sugang-monitoring-config.service${after ? `\nWants=${after}` : ''}

[Service]
Restart=always
RestartSec=5
ExecStartPre=-/usr/bin/docker rm -f ${service}
ExecStart=/usr/bin/docker run --rm --name ${service} --net host ${run}
ExecStop=/usr/bin/docker stop ${service}

[Install]
WantedBy=multi-user.target
UNIT
`
  const mysqldExporter = (name: 'primary' | 'replica', port: number) =>
    unit(
      `mysqld-exporter-${name}`,
      `mysqld_exporter for the ${name} MySQL instance`,
      `-v ${paths.mysqldExporter}:${MYSQLD_EXPORTER_MOUNT}:ro ${p.config.mysqldExporterImage} --config.my-cnf=${MYSQLD_EXPORTER_MOUNT}/${name}.cnf --web.listen-address=127.0.0.1:${port}`,
      afterTargets,
    )
  const mysqldExporters = [
    ['primary', EXPORTER_PORTS.mysqlPrimary] as const,
    ...(p.replicaHost ? [['replica', EXPORTER_PORTS.mysqlReplica] as const] : []),
  ]
  const services = [
    'sugang-monitoring-config.service',
    'sugang-monitoring-targets.timer',
    'prometheus.service',
    'alertmanager.service',
    'grafana.service',
    'redis-exporter.service',
    ...mysqldExporters.map(([name]) => `mysqld-exporter-${name}.service`),
    'sugang-watchdog-relay.service',
  ]
  return `#!/bin/bash
# Monitoring host bootstrap. Containers use the host network: they listen on 127.0.0.1 only (reached
# through SSM port forwarding), and Prometheus's EC2 discovery can use the instance role (IMDS hop
# limit 1 blocks bridged containers).
set -euo pipefail
dnf install -y docker jq
systemctl enable --now docker
install -d -o 65534 -g 65534 /var/lib/prometheus /var/lib/alertmanager
install -d -o 472 -g 0 /var/lib/grafana
install -d -m 0755 /opt/sugang-monitoring
install -d -m 0755 ${paths.targets}

cat >/usr/local/bin/sugang-monitoring-config <<'SCRIPT'
#!/bin/bash
# Pulls the monitoring workspace's files (synced to the bucket by the operator) and the secrets they
# refer to. Secrets live outside the synced tree so that sync --delete never touches them.
set -euo pipefail
REGION='${p.region}'
aws s3 sync --delete --region "$REGION" 's3://${p.configBucket}/monitoring/' /opt/sugang-monitoring/
# Mount points for the secret and target directories inside the read-only config mounts.
install -d /opt/sugang-monitoring/alertmanager/secrets /opt/sugang-monitoring/prometheus/targets
install -d /opt/sugang-monitoring/prometheus/schedule
# The opening's schedule of this profile (monitoring/prometheus/schedules/), which the opening-day
# board reads; without it the board's capacity panels show no data, and nothing else fails.
install -d -m 0755 ${MONITORING_SCHEDULE_DIR}
if ! install -m 0644 /opt/sugang-monitoring/prometheus/schedules/${p.profile}.yml ${MONITORING_SCHEDULE_DIR}/schedule.yml; then
  echo "prometheus/schedules/${p.profile}.yml not in the config bucket: the opening-day board has no schedule" >&2
fi
install -d -m 0750 -o 0 -g 0 /etc/sugang-monitoring/grafana
install -d -m 0750 -o 0 -g 65534 /etc/sugang-monitoring/alertmanager
install -d -m 0700 -o 0 -g 0 $(dirname ${paths.redisToken})
install -d -m 0750 -o 0 -g ${EXPORTER_GROUPS.redis} ${paths.redisExporter}
install -d -m 0750 -o 0 -g ${EXPORTER_GROUPS.mysqld} ${paths.mysqldExporter}
umask 027
# Grafana runs as uid 472 in group 0; Alertmanager and the MySQL exporters as nobody (65534), the
# Redis exporter as 59000.
aws secretsmanager get-secret-value --region "$REGION" --secret-id '${p.grafanaAdminSecretArn}' \\
  --query SecretString --output text >/etc/sugang-monitoring/grafana/admin-password
# Root only: the target writer puts it in the Redis exporter's password file, node by node.
aws secretsmanager get-secret-value --region "$REGION" --secret-id '${p.redisAuthSecretArn}' \\
  --query SecretString --output text >${paths.redisToken}.new
chmod 0600 ${paths.redisToken}.new
mv ${paths.redisToken}.new ${paths.redisToken}
# The MySQL exporters verify the RDS server certificate against it; a failed download keeps the last.
if curl -fsS --retry 3 -o ${paths.mysqldExporter}/rds-ca.pem.new '${RDS_CA_BUNDLE_URL}'; then
  chgrp ${EXPORTER_GROUPS.mysqld} ${paths.mysqldExporter}/rds-ca.pem.new
  mv ${paths.mysqldExporter}/rds-ca.pem.new ${paths.mysqldExporter}/rds-ca.pem
else
  rm -f ${paths.mysqldExporter}/rds-ca.pem.new
  echo 'the RDS CA bundle could not be fetched: the MySQL exporters cannot connect without one' >&2
fi
for file in ${ALERTMANAGER_SECRET_FILES.join(' ')}; do
  if aws ssm get-parameter --region "$REGION" --name "${p.config.alertmanagerSecretsPath}/$file" \\
    --with-decryption --query Parameter.Value --output text >"/etc/sugang-monitoring/alertmanager/$file.new"; then
    chgrp 65534 "/etc/sugang-monitoring/alertmanager/$file.new"
    mv "/etc/sugang-monitoring/alertmanager/$file.new" "/etc/sugang-monitoring/alertmanager/$file"
  else
    rm -f "/etc/sugang-monitoring/alertmanager/$file.new"
    echo "parameter ${p.config.alertmanagerSecretsPath}/$file not set: Alertmanager cannot reach Slack" >&2
  fi
done
SCRIPT
chmod 0700 /usr/local/bin/sugang-monitoring-config

cat >/usr/local/bin/sugang-watchdog-relay <<'SCRIPT'
${watchdogRelayScript()}SCRIPT
chmod 0755 /usr/local/bin/sugang-watchdog-relay

cat >/usr/local/bin/sugang-monitoring-targets <<'SCRIPT'
${monitoringTargetsScript({
  region: p.region,
  replicationGroupId: p.replicationGroupId,
  primaryHost: p.primaryHost,
  replicaHost: p.replicaHost ?? '',
})}SCRIPT
chmod 0700 /usr/local/bin/sugang-monitoring-targets

cat >/etc/systemd/system/sugang-monitoring-targets.service <<'UNIT'
[Unit]
Description=Write Prometheus's Redis and MySQL targets and the exporters' credentials
Wants=network-online.target
After=network-online.target sugang-monitoring-config.service

[Service]
Type=oneshot
ExecStart=/usr/local/bin/sugang-monitoring-targets
UNIT

cat >/etc/systemd/system/sugang-monitoring-targets.timer <<'UNIT'
[Unit]
Description=Every minute, and at boot: Prometheus's Redis and MySQL targets, fresh MySQL tokens

[Timer]
OnBootSec=0
OnUnitActiveSec=1min
AccuracySec=5s

[Install]
WantedBy=timers.target
UNIT

cat >/etc/systemd/system/sugang-watchdog-relay.service <<'UNIT'
[Unit]
Description=Relay Alertmanager's Watchdog to a CloudWatch heartbeat
After=network-online.target
Wants=network-online.target

[Service]
DynamicUser=yes
Environment=HOME=/tmp
Restart=always
RestartSec=5
ExecStart=/usr/local/bin/sugang-watchdog-relay ${p.region} ${WATCHDOG_HEARTBEAT.namespace} ${WATCHDOG_HEARTBEAT.metricName} ${WATCHDOG_HEARTBEAT.port}

[Install]
WantedBy=multi-user.target
UNIT

cat >/etc/systemd/system/sugang-monitoring-config.service <<'UNIT'
[Unit]
Description=Fetch sugang monitoring configuration and secrets
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/bin/sugang-monitoring-config

[Install]
WantedBy=multi-user.target
UNIT
${unit(
  'prometheus',
  'Prometheus',
  `-v /opt/sugang-monitoring/prometheus:/etc/prometheus:ro -v ${paths.targets}:/etc/prometheus/targets:ro -v ${MONITORING_SCHEDULE_DIR}:/etc/prometheus/schedule:ro -v /var/lib/prometheus:/prometheus ${p.config.prometheusImage} --config.file=/etc/prometheus/prometheus.yml --storage.tsdb.path=/prometheus --storage.tsdb.retention.time=30d --web.listen-address=127.0.0.1:${prometheus}`,
)}${unit(
    'alertmanager',
    'Alertmanager',
    `-v /opt/sugang-monitoring/alertmanager:/etc/alertmanager:ro -v /etc/sugang-monitoring/alertmanager:/etc/alertmanager/secrets:ro -v /var/lib/alertmanager:/alertmanager ${p.config.alertmanagerImage} --config.file=/etc/alertmanager/alertmanager.yml --storage.path=/alertmanager --web.listen-address=127.0.0.1:${alertmanager} --cluster.listen-address=`,
  )}${unit(
    'grafana',
    'Grafana',
    `-e GF_SERVER_HTTP_ADDR=127.0.0.1 -e GF_SERVER_HTTP_PORT=${grafana} -e GF_SECURITY_ADMIN_PASSWORD__FILE=/run/secrets/grafana-admin-password -e GF_PATHS_PROVISIONING=/etc/grafana/provisioning -v /opt/sugang-monitoring/grafana/provisioning:/etc/grafana/provisioning:ro -v /opt/sugang-monitoring/grafana/dashboards:/etc/grafana/dashboards/sugang:ro -v /etc/sugang-monitoring/grafana/admin-password:/run/secrets/grafana-admin-password:ro -v /var/lib/grafana:/var/lib/grafana ${p.config.grafanaImage}`,
  )}${unit(
    'redis-exporter',
    'redis_exporter for every ElastiCache node (its /scrape endpoint)',
    // ElastiCache refuses CONFIG: without --config-command=- every scrape would log its error.
    `-v ${paths.redisExporter}:${REDIS_EXPORTER_MOUNT}:ro ${p.config.redisExporterImage} --web.listen-address=127.0.0.1:${EXPORTER_PORTS.redis} --redis.password-file=${REDIS_EXPORTER_MOUNT}/passwords.json --config-command=-`,
    afterTargets,
  )}${mysqldExporters.map(([name, port]) => mysqldExporter(name, port)).join('')}
systemctl daemon-reload
systemctl enable --now ${services.join(' ')}
`
}
