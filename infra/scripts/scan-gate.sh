#!/usr/bin/env bash
# The deploy pipeline's vulnerability gate: waits for ECR's scan of one image and fails when the
# image has a finding at or above IMAGE_SCAN_THRESHOLD that a newer package would fix.
#
#   infra/scripts/scan-gate.sh <repository> <sha256:digest>
#
#   IMAGE_SCAN_THRESHOLD  CRITICAL | HIGH (default) | MEDIUM | LOW | INFORMATIONAL
#   SCAN_TIMEOUT_SECONDS  how long the scan may take (default 900)
#   POLL_SECONDS          between two looks at the scan (default 10)
#
# The registry stack turns on enhanced scanning (Amazon Inspector): its findings say whether a
# fix exists (`fixAvailable`, `fixedInVersion`). A finding without one is listed as a warning and
# does not block: no rebuild could remove it, and a base image such as Debian's slim carries
# several at HIGH at any time. Basic scanning says nothing about fixes, so under it every finding
# at the threshold blocks. A scan that failed, or cannot scan the image, blocks too.
set -euo pipefail

die() {
  printf '::error::%s\n' "$*" >&2
  exit 1
}

repository=${1:-}
digest=${2:-}
[ -n "$repository" ] && [[ $digest =~ ^sha256:[0-9a-f]{64}$ ]] ||
  die "usage: scan-gate.sh <repository> <sha256:digest>"
threshold=${IMAGE_SCAN_THRESHOLD:-HIGH}
case $threshold in CRITICAL | HIGH | MEDIUM | LOW | INFORMATIONAL) ;; *)
  die "IMAGE_SCAN_THRESHOLD must be CRITICAL, HIGH, MEDIUM, LOW or INFORMATIONAL, not '$threshold'"
  ;;
esac
timeout=${SCAN_TIMEOUT_SECONDS:-900}
poll=${POLL_SECONDS:-10}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
findings="$work/findings.json"

# Node reads the JSON: it is on every machine that runs the pipeline.
field() {
  node -e '
    const [file, path] = process.argv.slice(1)
    let value = JSON.parse(require("node:fs").readFileSync(file, "utf8"))
    for (const key of path.split(".")) value = value?.[key]
    console.log(value ?? "")
  ' "$findings" "$1"
}

deadline=$(($(date -u +%s) + timeout))
while :; do
  # The CLI follows nextToken itself and joins every page's findings.
  if aws ecr describe-image-scan-findings --repository-name "$repository" \
    --image-id "imageDigest=$digest" --output json >"$findings" 2>"$work/error"; then
    status=$(field imageScanStatus.status)
  elif grep -q ScanNotFoundException "$work/error"; then
    # Just pushed: the scan has not been registered yet.
    status=PENDING
  else
    cat "$work/error" >&2
    die "could not read the scan findings of $repository@$digest"
  fi
  case $status in
    COMPLETE | ACTIVE) break ;;
    PENDING | IN_PROGRESS) echo "scan of $repository@$digest: $status" ;;
    *)
      die "the scan of $repository@$digest ended $status ($(field imageScanStatus.description)); an image that was not scanned is not deployed"
      ;;
  esac
  [ "$(date -u +%s)" -lt "$deadline" ] || die "the scan of $repository@$digest is still $status after ${timeout}s"
  sleep "$poll"
done

node - "$findings" "$threshold" <<'EOF'
const [file, threshold] = process.argv.slice(2)
const { imageScanFindings: scan = {} } = JSON.parse(require('node:fs').readFileSync(file, 'utf8'))
const order = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFORMATIONAL']
const atOrAbove = (severity) => {
  const rank = order.indexOf(severity)
  return rank >= 0 && rank <= order.indexOf(threshold)
}
const enhanced = Array.isArray(scan.enhancedFindings)
const fixable = (f) => {
  if (f.fixAvailable) return f.fixAvailable !== 'NO'
  const packages = f.packageVulnerabilityDetails?.vulnerablePackages ?? []
  return packages.some((p) => p.fixedInVersion && p.fixedInVersion !== 'NotAvailable')
}
const describe = (f) => {
  if (!enhanced) return `${f.name} ${f.uri ?? ''}`.trim()
  const id = f.packageVulnerabilityDetails?.vulnerabilityId ?? f.title
  const packages = (f.packageVulnerabilityDetails?.vulnerablePackages ?? [])
    .map((p) => `${p.name} ${p.version}${p.fixedInVersion ? ` (fixed in ${p.fixedInVersion})` : ''}`)
    .join(', ')
  return `${id}: ${packages || f.title}`
}
const all = enhanced ? scan.enhancedFindings : (scan.findings ?? [])
const counts = Object.fromEntries(order.map((s) => [s, 0]))
for (const f of all) if (f.severity in counts) counts[f.severity] += 1
console.log(
  `${enhanced ? 'enhanced' : 'basic'} scan: ` + order.map((s) => `${s} ${counts[s]}`).join(', '),
)
const relevant = all.filter((f) => atOrAbove(f.severity))
const blocking = enhanced ? relevant.filter(fixable) : relevant
for (const f of relevant.filter((f) => !blocking.includes(f))) {
  console.log(`::warning::${f.severity} without a fix yet: ${describe(f)}`)
}
for (const f of blocking) console.log(`${f.severity}: ${describe(f)}`)
if (blocking.length > 0) {
  console.log(
    enhanced
      ? `::error::${blocking.length} finding(s) of ${threshold} or worse have a fix: rebuild on a newer base image or update the package`
      : `::error::${blocking.length} finding(s) of ${threshold} or worse, and basic scanning cannot tell which have a fix: apply the registry stack (enhanced scanning) or, knowingly, raise IMAGE_SCAN_THRESHOLD`,
  )
  process.exit(1)
}
console.log(`no finding of ${threshold} or worse has a fix: the image may be deployed`)
EOF
