#!/usr/bin/env bash
# Deno's Jupyter kernel, for the tests that run lessons under it: the `deno`
# npm package (its binary comes in a platform package; nothing is downloaded
# at install) in the project-local folder .deno/, kept out of the default
# `npm install`, and registered as the kernel "deno" in .jupyter-local, where
# `kernel-lib-run --kernel deno` and `npm start`'s JupyterLab look first.
set -euo pipefail
cd "$(dirname "$0")/.."
version=2.9.6
npm install --no-audit --no-fund --no-save --no-package-lock --prefix .deno "deno@$version" >/dev/null
deno="$PWD/.deno/node_modules/deno/deno"
"$deno" --version | head -1
spec=.jupyter-local/share/jupyter/kernels/deno
mkdir -p "$spec"
cat >"$spec/kernel.json" <<EOF
{
  "argv": ["$deno", "jupyter", "--kernel", "--conn", "{connection_file}"],
  "display_name": "Deno",
  "language": "typescript"
}
EOF
echo "registered Deno's kernel in $spec"
