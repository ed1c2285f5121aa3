// The app instance's first-boot script. It is rendered from the profile alone (no Terraform
// references but, when no image is named, the released image's digest), so it is a plain string
// the tests can read. It holds no secrets: sugang-prepare
// fetches them before every start of the service, because user data is readable by anyone with
// ec2:DescribeInstanceAttribute and stays on the instance in /var/lib/cloud.

export const APP_PORT = 3000
export const METRICS_PORT = 9464
export const NODE_EXPORTER_PORT = 9100
export const MYSQL_PORT = 3306
export const REDIS_PORT = 6379
/** 200 while the process runs, no I/O: what the load balancer and the autoscaling group act on. */
export const LIVENESS_PATH = '/health/live'
/**
 * 200 only once MySQL and Redis answered: an instance enters service only when it is ready (the
 * launch lifecycle hook), and the deploy's smoke test asks it; nothing replaces an instance for it.
 */
export const READINESS_PATH = '/health/ready'
/**
 * Seconds `docker stop` waits for the service after SIGTERM before killing it. The service
 * finishes in-flight requests and admission batches within its close-with-grace delay (10 s,
 * service/src/server.ts); this leaves it three times that.
 */
export const CONTAINER_STOP_SECONDS = 30
/** The autoscaling group's launch lifecycle hook, completed by sugang-launch. */
export const LAUNCH_HOOK_NAME = 'sugang-ready'

export interface AppUserDataProps {
  readonly region: string
  /** Full image reference, `<registry>/<repo>@sha256:<digest>` or `<registry>/<repo>:<tag>`. */
  readonly image: string
  readonly logGroupName: string
  /** Parameter Store name of the runtime settings (AppRuntimeSettings as JSON). */
  readonly runtimeParameterName: string
  readonly nodeExporterImage: string
  /** The group whose launch lifecycle hook the instance completes. */
  readonly autoscalingGroupName: string
  /** How long sugang-launch waits for /health/ready before abandoning the launch. */
  readonly readyTimeoutSeconds: number
  /**
   * Settings of the service that come from the profile, not from a store (the registration
   * window): written into the env file as they are. Not for secrets: user data is readable.
   */
  readonly serviceEnvironment: Readonly<Record<string, string>>
  /**
   * Redis runs in cluster mode: the env file gets REDIS_CLUSTER_NODES (the configuration endpoint
   * as the one seed) instead of REDIS_URL. The service takes exactly one of the two.
   */
  readonly redisClusterMode: boolean
}

/** What a profile setting may look like to be written into the env file unquoted and unescaped. */
const ENV_NAME = /^[A-Z][A-Z0-9_]*$/
const ENV_VALUE = /^[A-Za-z0-9:+,=./_-]*$/

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
  /** The primary endpoint, or in cluster mode the configuration endpoint. */
  readonly redisHost: string
  readonly sessionSecretParameterName: string
  /** ADMIN_TOKENS' SecureString; operators write it, and until they do the admin listener is off. */
  readonly adminTokensParameterName: string
}

export function renderAppUserData(p: AppUserDataProps): string {
  const settings = Object.entries(p.serviceEnvironment).map(([name, value]) => {
    if (!ENV_NAME.test(name) || !ENV_VALUE.test(value)) {
      throw new Error(`app user data: ${name}=${value} cannot be written into the env file as is`)
    }
    return `  echo '${name}=${value}'\n`
  })
  // TLS from the scheme, AUTH from the password; the token is alphanumeric (cache.ts).
  const redisSetting = p.redisClusterMode ? 'REDIS_CLUSTER_NODES' : 'REDIS_URL'
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
# The service's own MySQL user (sugang_app), never the master.
db=$(secret "$(setting databaseSecretArn)")
# Percent-encoded, so that no password character can break DATABASE_URL.
db_user=$(jq -r '.username | @uri' <<<"$db")
db_password=$(jq -r '.password | @uri' <<<"$db")
redis_token=$(secret "$(setting redisAuthSecretArn)")
session_secret=$(aws ssm get-parameter --region "$REGION" --name "$(setting sessionSecretParameterName)" \\
  --with-decryption --query Parameter.Value --output text)
# The operators' name:sha256 entries for the admin listener. A parameter nobody wrote yet leaves
# the listener off; any other failure stops the start, as for every secret.
admin_tokens_error=$(mktemp)
if ! admin_tokens=$(aws ssm get-parameter --region "$REGION" --name "$(setting adminTokensParameterName)" \\
  --with-decryption --query Parameter.Value --output text 2>"$admin_tokens_error"); then
  if ! grep -q ParameterNotFound "$admin_tokens_error"; then
    cat "$admin_tokens_error" >&2
    exit 1
  fi
  admin_tokens=
fi
rm -f "$admin_tokens_error"

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
  # The registration window, from the profile's calendar: without it the service is always open.
${settings.join('')}  # MySQL refuses unencrypted connections; the service verifies the server against the RDS CA.
  echo 'DATABASE_TLS=rds'
  echo "DATABASE_URL=mysql://$db_user:$db_password@$db_host:${MYSQL_PORT}/$db_name"
  if [ -n "$db_replica_host" ]; then
    echo "DATABASE_REPLICA_URL=mysql://$db_user:$db_password@$db_replica_host:${MYSQL_PORT}/$db_name"
  fi
  echo "${redisSetting}=rediss://:$redis_token@$redis_host:${REDIS_PORT}"
  echo "SESSION_SECRET=$session_secret"
  # ADMIN_HOST is never set and the admin port never published: the admin listener stays on the
  # container's loopback, which only \`docker exec\` on the instance reaches (/usr/local/bin/sugang).
  if [ -n "$admin_tokens" ]; then
    echo "ADMIN_TOKENS=$admin_tokens"
  fi
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
ExecStop=/usr/bin/docker stop --time ${CONTAINER_STOP_SECONDS} sugang
TimeoutStopSec=${CONTAINER_STOP_SECONDS + 15}

[Install]
WantedBy=multi-user.target
`

  // The service's CLI in the running container, with the container's settings: `sugang admin`
  // reaches the admin listener on the container's loopback. The operator's token is passed on by
  // name from the caller's environment, never on a command line (ps would show it).
  const cli = `#!/bin/bash
# In an SSM session: read -rs SUGANG_ADMIN_TOKEN && export SUGANG_ADMIN_TOKEN
#                    sudo --preserve-env=SUGANG_ADMIN_TOKEN /usr/local/bin/sugang admin status
exec docker exec -e SUGANG_ADMIN_TOKEN sugang node service/bin/sugang.js "$@"
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

  // Every boot: a launch into the warm pool pre-initializes (images pulled, secrets readable) and
  // lets the group stop the instance; a launch into service starts the service and is admitted
  // only once it is ready. Not ready in time: ABANDON, and the group replaces the instance (an
  // instance refresh with a broken image fails and rolls back instead of replacing the fleet).
  const launch = `#!/bin/bash
set -euo pipefail
REGION='${p.region}'
GROUP='${p.autoscalingGroupName}'
HOOK='${LAUNCH_HOOK_NAME}'
READY_TIMEOUT=${p.readyTimeoutSeconds}

imds() {
  local token
  token=$(curl -sf -X PUT http://169.254.169.254/latest/api/token \\
    -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')
  curl -sf -H "X-aws-ec2-metadata-token: $token" "http://169.254.169.254/latest/meta-data/$1"
}
instance_id=$(imds instance-id)
# Where the group means this instance to go; it appears shortly after boot.
state=
for _ in $(seq 1 60); do
  state=$(imds autoscaling/target-lifecycle-state || true)
  [ -n "$state" ] && break
  sleep 2
done
finish() {
  # A reboot of an instance in service has no pending lifecycle action: nothing to complete.
  aws autoscaling complete-lifecycle-action --region "$REGION" --auto-scaling-group-name "$GROUP" \\
    --lifecycle-hook-name "$HOOK" --instance-id "$instance_id" --lifecycle-action-result "$1" ||
    echo "no lifecycle action to complete ($1)"
}

case $state in
  Warmed:*)
    /usr/local/bin/sugang-prepare
    finish CONTINUE
    ;;
  *)
    systemctl start sugang.service
    for _ in $(seq 1 "$READY_TIMEOUT"); do
      if curl -sf -o /dev/null --max-time 2 http://127.0.0.1:${APP_PORT}${READINESS_PATH}; then
        finish CONTINUE
        exit 0
      fi
      sleep 1
    done
    echo "not ready after $READY_TIMEOUT seconds"
    finish ABANDON
    exit 1
    ;;
esac
`

  const launchUnit = `[Unit]
Description=Start sugang, or pre-initialize it in the warm pool, and complete the launch hook
Wants=network-online.target
After=network-online.target docker.service node-exporter.service

[Service]
Type=oneshot
TimeoutStartSec=${p.readyTimeoutSeconds + 300}
ExecStart=/usr/local/bin/sugang-launch

[Install]
WantedBy=multi-user.target
`

  return `#!/bin/bash
set -euo pipefail
# Installed at launch, which with the warm pool happens before the rush, not during it; a
# pre-built AMI would take it off the launch too (infra/README.md, "Scaling for the rush").
dnf install -y docker jq
systemctl enable --now docker

cat >/usr/local/bin/sugang-prepare <<'SCRIPT'
${prepare}SCRIPT
chmod 0700 /usr/local/bin/sugang-prepare

cat >/usr/local/bin/sugang <<'SCRIPT'
${cli}SCRIPT
chmod 0755 /usr/local/bin/sugang

cat >/etc/systemd/system/sugang.service <<'UNIT'
${serviceUnit}UNIT

cat >/etc/systemd/system/node-exporter.service <<'UNIT'
${nodeExporterUnit}UNIT

cat >/usr/local/bin/sugang-launch <<'SCRIPT'
${launch}SCRIPT
chmod 0700 /usr/local/bin/sugang-launch

cat >/etc/systemd/system/sugang-launch.service <<'UNIT'
${launchUnit}UNIT

# sugang.service is not enabled: sugang-launch starts it on every boot into service, never in
# the warm pool.
systemctl daemon-reload
systemctl enable node-exporter.service sugang-launch.service
systemctl start --no-block node-exporter.service sugang-launch.service
`
}
