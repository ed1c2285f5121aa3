#!/usr/bin/env bash
# Rolls one image out to a profile and proves it serves: `cdktf deploy` of the named stacks with
# the image pinned by digest, a wait for the autoscaling group's instance refresh to succeed, and a
# smoke test through the load balancer. The deploy workflow runs it for a release and, when
# anything after the deploy fails, again with the previously released digest (the rollback).
#
#   infra/scripts/roll-out.sh <sha256:digest> <stack>...     stacks: app, notify
#
#   SUGANG_PROFILE           small | ha (required)
#   APP_URL                  where to smoke-test, as DNS has it (default: the app stack's app_url,
#                            reached at its load balancer, alb_dns_name, whatever DNS says)
#   REFRESH_TIMEOUT_SECONDS  how long the instance refresh may take (default 1800)
#   POLL_SECONDS             between two looks at the refresh (default 15)
#   SMOKE_ATTEMPTS           tries of /health/ready, 6 s apart (default 10)
#   CDKTF                    the cdktf CLI (default: npx cdktf)
#   DEPLOY_FREEZE_OVERRIDE   why to deploy although registration is about to open or open (a
#                            reason, printed as a warning); without it such a deploy is refused
#   FREEZE_CHECK             the freeze check (default: npx tsx src/check-deploy-freeze.ts)
# With GITHUB_OUTPUT set, it also writes app-url=<url> there.
set -euo pipefail

log() { printf '== %s\n' "$*"; }
die() {
  printf '::error::%s\n' "$*" >&2
  exit 1
}

digest=${1:-}
[[ $digest =~ ^sha256:[0-9a-f]{64}$ ]] || die "usage: roll-out.sh <sha256:digest> <stack>..."
shift
[ $# -gt 0 ] || die "name the stacks to deploy: app, notify"
profile=${SUGANG_PROFILE:?SUGANG_PROFILE must name the profile}
refresh_timeout=${REFRESH_TIMEOUT_SECONDS:-1800}
poll=${POLL_SECONDS:-15}
smoke_attempts=${SMOKE_ATTEMPTS:-10}
read -r -a cdktf <<<"${CDKTF:-npx cdktf}"
read -r -a freeze_check <<<"${FREEZE_CHECK:-npx tsx src/check-deploy-freeze.ts}"

stacks=()
with_app=0
for concern in "$@"; do
  case $concern in
    app) with_app=1 ;;
    notify) ;;
    *) die "unknown stack '$concern': app or notify" ;;
  esac
  stacks+=("sugang-$profile-$concern")
done

infra_dir=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
outputs="$work/outputs.json"

# Registration openings in the profile freeze deploys (compute.rush): a release must not replace
# instances while students enroll, nor still be rolling when the scheduled scale-out starts.
freeze_status=0
freeze=$(cd "$infra_dir" && "${freeze_check[@]}" "$profile") || freeze_status=$?
case $freeze_status in
  0) ;;
  3)
    [ -n "${DEPLOY_FREEZE_OVERRIDE:-}" ] ||
      die "$freeze; set DEPLOY_FREEZE_OVERRIDE to a reason to deploy all the same"
    printf '::warning::%s; deploying all the same: %s\n' "$freeze" "$DEPLOY_FREEZE_OVERRIDE" >&2
    ;;
  *) die "could not check the deploy freeze: $freeze" ;;
esac

# A refresh that started before this moment is not this deploy's (unless it is still running).
started=$(date -u +%s)
log "deploying $digest to ${stacks[*]}"
# --ignore-missing-stack-dependencies: the app and notify stacks read the network, registry and
# data stacks' state, which the pipeline may not (and need not) apply; without the flag cdktf
# refuses to deploy a stack without its dependencies.
(
  cd "$infra_dir"
  SUGANG_IMAGE_DIGEST=$digest CHECKPOINT_DISABLE=1 "${cdktf[@]}" deploy "${stacks[@]}" \
    --auto-approve --ignore-missing-stack-dependencies --outputs-file "$outputs"
)

[ "$with_app" = 1 ] || exit 0

# Node reads the JSON: it is on every machine that runs cdktf, jq is not.
output() {
  node -e '
    const [file, stack, name] = process.argv.slice(1)
    const value = JSON.parse(require("node:fs").readFileSync(file, "utf8"))[stack]?.[name]
    if (typeof value !== "string" || value === "") process.exit(1)
    console.log(value)
  ' "$outputs" "sugang-$profile-app" "$1" || die "the app stack has no output $1"
}
error_code() {
  node -e '
    try {
      console.log(JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8")).error.code)
    } catch {}
  ' "$1"
}
asg=$(output autoscaling_group_name)

log "waiting for the instance refresh of $asg (at most ${refresh_timeout}s)"
deadline=$((started + refresh_timeout))
while :; do
  latest=$(
    aws autoscaling describe-instance-refreshes --auto-scaling-group-name "$asg" --max-records 1 \
      --query 'InstanceRefreshes[0].[InstanceRefreshId,Status,StartTime,PercentageComplete,StatusReason]' \
      --output text
  ) || die "could not read the instance refreshes of $asg"
  # Tab-separated; the reason comes last because it may contain spaces.
  IFS=$'\t' read -r id status start_time percentage reason <<<"$latest" || true
  case ${status:-None} in
    Pending | InProgress | Cancelling | RollbackInProgress | Baking)
      echo "refresh $id: $status, ${percentage}% replaced"
      ;;
    *)
      if [ "${id:-None}" = None ] || [ "$(date -u -d "$start_time" +%s)" -lt "$((started - 5))" ]; then
        echo "no instance refresh started: the launch template did not change"
        break
      fi
      [ "$status" = Successful ] || die "instance refresh $id ended $status: $reason"
      echo "refresh $id: Successful"
      break
      ;;
  esac
  [ "$(date -u +%s)" -lt "$deadline" ] ||
    die "instance refresh $id still $status after ${refresh_timeout}s"
  sleep "$poll"
done

url=${APP_URL:-$(output app_url)}
url=${url%/}
[ -z "${GITHUB_OUTPUT:-}" ] || echo "app-url=$url" >>"$GITHUB_OUTPUT"

# The app's own name, connected to the app stack's load balancer: TLS is checked against that
# name (the certificate, SNI) and the WAF and the listener see it in Host, but no DNS record is
# needed. small's record is kept outside AWS by whoever owns the domain (a CNAME to the load
# balancer), and the release is proven on what the deploy changed either way.
via=()
if [ -z "${APP_URL:-}" ]; then
  alb=$(output alb_dns_name)
  host=${url#https://}
  host=${host%%/*}
  via=(--connect-to "$host:443:$alb:443")
  log "smoke test through the load balancer $alb: $url"
else
  log "smoke test: $url"
fi
smoke() { curl ${via[@]+"${via[@]}"} -sS -o "$body" -w '%{http_code}' --max-time 10 "$url$1" || true; }
body="$work/body"
code=000
for attempt in $(seq 1 "$smoke_attempts"); do
  code=$(smoke /health/ready)
  [ "$code" = 200 ] && break
  echo "GET /health/ready: $code (attempt $attempt of $smoke_attempts)"
  [ "$attempt" = "$smoke_attempts" ] || sleep 6
done
[ "$code" = 200 ] || die "GET $url/health/ready answered $code"
echo "GET /health/ready: 200 (MySQL and Redis answer)"

# Without a session the API must refuse in its own words: that proves the request crossed the
# WAF and the load balancer and reached the service's API routes, without the pipeline holding a
# student's password.
code=$(smoke /api/v1/courses)
if [ "$code" != 401 ] || [ "$(error_code "$body")" != UNAUTHENTICATED ]; then
  die "GET $url/api/v1/courses answered $code, not 401 UNAUTHENTICATED: $(head -c 300 "$body")"
fi
echo "GET /api/v1/courses: 401 UNAUTHENTICATED, as it must without a session"
log "rolled out $digest"
