#!/bin/sh
# Installs the Debian packages that monitoring's tests and scripts/monitoring-up run, and only
# those that are missing, so CI can call it on every run:
#   prometheus               prometheus, promtool
#   prometheus-alertmanager  prometheus-alertmanager, amtool
#   prometheus-node-exporter prometheus-node-exporter (host metrics for the metric-name test)
#   prometheus-redis-exporter   prometheus-redis-exporter (each Redis node's INFO)
#   prometheus-mysqld-exporter  prometheus-mysqld-exporter (MySQL's global status)
# The packages' service scripts are not needed: the tests start the binaries themselves on spare
# loopback ports with temporary data directories.
set -eu

packages='prometheus prometheus-alertmanager prometheus-node-exporter prometheus-redis-exporter prometheus-mysqld-exporter'
missing=''
for package in $packages; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing="$missing $package"
  fi
done

if [ -z "$missing" ]; then
  echo "monitoring: Debian packages present ($packages)"
  exit 0
fi

run_as_root=''
if [ "$(id -u)" -ne 0 ]; then
  run_as_root='sudo'
fi

echo "monitoring: installing$missing"
$run_as_root apt-get update -qq
# shellcheck disable=SC2086 # $missing is a list of package names
DEBIAN_FRONTEND=noninteractive $run_as_root apt-get install -y -qq --no-install-recommends $missing
