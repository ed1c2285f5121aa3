// The app instance's first-boot script. It is rendered from the profile alone (no Terraform
// references), so it is a plain string the tests can read. It holds no secrets: sugang-prepare
// fetches them before every start of the service, because user data is readable by anyone with
// ec2:DescribeInstanceAttribute and stays on the instance in /var/lib/cloud.

export const APP_PORT = 3000
export const METRICS_PORT = 9464
export const NODE_EXPORTER_PORT = 9100
export const MYSQL_PORT = 3306
export const REDIS_PORT = 6379

export interface AppUserDataProps {
  readonly region: string
  /** Full image reference, `<registry>/<repo>@sha256:<digest>` or `<registry>/<repo>:<tag>`. */
  readonly image: string
  readonly logGroupName: string
  /** Parameter Store name of the runtime settings (AppRuntimeSettings as JSON). */
  readonly runtimeParameterName: string
  readonly nodeExporterImage: string
}

/**
 * Where the service's dependencies are, written by Terraform to Parameter Store. Addresses and
 * secret ARNs only; the secrets themselves stay in Secrets Manager and Parameter Store.
 */
export interface AppRuntimeSettings {
  readonly databaseSecretArn: string
  readonly databaseHost: string
  /** Empty without a read replica: DATABASE_REPLICA_URL is then left unset. */
  readonly databaseReplicaHost: string
  readonly databaseName: string
  readonly redisAuthSecretArn: string
  readonly redisHost: string
  readonly sessionSecretParameterName: string
}

export function renderAppUserData(p: AppUserDataProps): string {
  const prepare = `#!/bin/bash
# Writes /run/sugang/app.env (tmpfs, root only) from Secrets Manager and Parameter Store, then logs
# in to ECR and pulls the image. Runs before every start, so a rotated secret needs only a restart.
set -euo pipefail
umask 077
REGION='${p.region}'
IMAGE='${p.image}'
RUNTIME_PARAMETER='${p.runtimeParameterName}'

runtime=$(aws ssm get-parameter --region "$REGION" --name "$RUNTIME_PARAMETER" \\
  --query Parameter.Value --output text)
setting() { jq -r --arg key "$1" '.[$key]' <<<"$runtime"; }
secret() {
  aws secretsmanager get-secret-value --region "$REGION" --secret-id "$1" \\
    --query SecretString --output text
}
db_host=$(setting databaseHost)
db_replica_host=$(setting databaseReplicaHost)
db_name=$(setting databaseName)
redis_host=$(setting redisHost)
db=$(secret "$(setting databaseSecretArn)")
# RDS-generated passwords may contain URL delimiters; DATABASE_URL needs them percent-encoded.
db_user=$(jq -r '.username | @uri' <<<"$db")
db_password=$(jq -r '.password | @uri' <<<"$db")
redis_token=$(secret "$(setting redisAuthSecretArn)")
session_secret=$(aws ssm get-parameter --region "$REGION" --name "$(setting sessionSecretParameterName)" \\
  --with-decryption --query Parameter.Value --output text)

install -d -m 0700 /run/sugang
{
  echo 'NODE_ENV=production'
  echo 'HOST=0.0.0.0'
  # The metrics listener defaults to 127.0.0.1, but the container has its own network namespace:
  # there, loopback is unreachable through the published port. The app security group lets only
  # the monitoring host reach port ${METRICS_PORT}.
  echo 'METRICS_HOST=0.0.0.0'
  echo 'PORT=${APP_PORT}'
  echo 'METRICS_PORT=${METRICS_PORT}'
  echo "DATABASE_URL=mysql://$db_user:$db_password@$db_host:${MYSQL_PORT}/$db_name"
  if [ -n "$db_replica_host" ]; then
    echo "DATABASE_REPLICA_URL=mysql://$db_user:$db_password@$db_replica_host:${MYSQL_PORT}/$db_name"
  fi
  echo "REDIS_URL=rediss://:$redis_token@$redis_host:${REDIS_PORT}"
  echo "SESSION_SECRET=$session_secret"
} >/run/sugang/app.env.new
mv /run/sugang/app.env.new /run/sugang/app.env

registry=$(cut -d/ -f1 <<<"$IMAGE")
aws ecr get-login-password --region "$REGION" | docker login --username AWS --password-stdin "$registry"
docker pull "$IMAGE"
`

  const serviceUnit = `[Unit]
Description=sugang service container
Wants=network-online.target
After=network-online.target docker.service
Requires=docker.service

[Service]
TimeoutStartSec=600
Restart=always
RestartSec=5
ExecStartPre=/usr/local/bin/sugang-prepare
ExecStartPre=-/usr/bin/docker rm -f sugang
ExecStart=/usr/bin/docker run --rm --name sugang --env-file /run/sugang/app.env -p ${APP_PORT}:${APP_PORT} -p ${METRICS_PORT}:${METRICS_PORT} --log-driver awslogs --log-opt awslogs-region=${p.region} --log-opt awslogs-group=${p.logGroupName} ${p.image}
ExecStop=/usr/bin/docker stop --time 30 sugang

[Install]
WantedBy=multi-user.target
`

  const nodeExporterUnit = `[Unit]
Description=Prometheus node exporter
After=docker.service
Requires=docker.service

[Service]
Restart=always
RestartSec=5
ExecStartPre=-/usr/bin/docker rm -f node-exporter
ExecStart=/usr/bin/docker run --rm --name node-exporter --net host --pid host -v /:/host:ro,rslave ${p.nodeExporterImage} --path.rootfs=/host --web.listen-address=:${NODE_EXPORTER_PORT}
ExecStop=/usr/bin/docker stop node-exporter

[Install]
WantedBy=multi-user.target
`

  return `#!/bin/bash
set -euo pipefail
dnf install -y docker jq
systemctl enable --now docker

cat >/usr/local/bin/sugang-prepare <<'SCRIPT'
${prepare}SCRIPT
chmod 0700 /usr/local/bin/sugang-prepare

cat >/etc/systemd/system/sugang.service <<'UNIT'
${serviceUnit}UNIT

cat >/etc/systemd/system/node-exporter.service <<'UNIT'
${nodeExporterUnit}UNIT

systemctl daemon-reload
systemctl enable --now node-exporter.service sugang.service
`
}
