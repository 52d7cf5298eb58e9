#!/usr/bin/env bash
# The per-call cost of the components under several jco versions, measured in one run: for each
# version, install it (with the preview2-shim it depends on) in a scratch directory, transpile
# build/*.wasm there, and run lifecycle.mjs, which checks the lifecycle and prints its medians.
#
# Usage: ./compare-jco.sh 1.35.0 1.10.2 …   (after writing build/tasks.wasm and build/machine.wasm)
set -euo pipefail
cd "$(dirname "$0")"
[ $# -gt 0 ] || { echo "usage: $0 JCO_VERSION…" >&2; exit 2; }
for f in build/tasks.wasm build/machine.wasm; do
  [ -f "$f" ] || { echo "$f is missing: see README.md for mcp-tasks component --out" >&2; exit 2; }
done

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for version in "$@"; do
  dir="$scratch/$version"
  mkdir -p "$dir"
  cp -r lifecycle.mjs store.js server.js build "$dir/"
  # The same transpile script, without the pinned versions.
  node -e 'const p = require("./package.json"); delete p.devDependencies;
           require("fs").writeFileSync(process.argv[1], JSON.stringify(p))' "$dir/package.json"
  (
    cd "$dir"
    # Only jco: npm brings the preview2-shim version that this jco release depends on.
    npm install --no-audit --no-fund --loglevel=error "@bytecodealliance/jco@$version" >/dev/null
    [ "$(npx --no-install jco --version)" = "$version" ]
    npm run --silent transpile >/dev/null
    shim=$(node -e 'console.log(JSON.parse(require("fs").readFileSync("node_modules/@bytecodealliance/preview2-shim/package.json")).version)')
    echo "jco $version (preview2-shim $shim): $(node lifecycle.mjs | grep 'per call')"
  )
done
