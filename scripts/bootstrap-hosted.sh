#!/usr/bin/env bash
# Set up the autodiff lessons in a hosted Jupyter session (a JupyterHub,
# a cloud notebook, Colab) where you have a terminal or a `!`/`%%bash` cell:
#
#   curl -fsSL https://raw.githubusercontent.com/autodiff-notebook-kit/autodiff-notebook-kit/HEAD/scripts/bootstrap-hosted.sh | bash
#
# 1. Node >= 20.19: the one on PATH if it is recent enough (and has npm), else
#    the official tarball from nodejs.org, checked against its SHASUMS256.txt
#    and unpacked under ~/.local/lib/nodejs (links in ~/.local/bin).
# 2. This project: git clone into ~/autodiff-notebook-kit, or `git pull
#    --ff-only` if it is already there; then `npm ci` (installs and builds).
# 3. The tslab kernels ("TypeScript (tslab)", "JavaScript (tslab)") in your
#    Jupyter data folder (`jupyter --data-dir`), with absolute paths to that
#    Node, kernel-lib's preload (it keeps tslab from losing output) and tslab,
#    so they start whatever PATH the Jupyter server has.
# Running it again updates the checkout and re-registers; nothing needs root.
#
# Settings (environment variables):
#   KIT_REPO               git URL or path to clone (default: the GitHub repository)
#   KIT_DIR                where to put the project (default: ~/autodiff-notebook-kit)
#   KIT_NODE_VERSION       Node to install when needed (default below)
#   KIT_NODE_DIST_URL      where Node releases are (default https://nodejs.org/dist;
#                          expects <url>/v<version>/node-v<version>-linux-<arch>.tar.gz and SHASUMS256.txt)
#   KIT_NODE_HOME          where to unpack Node (default ~/.local/lib/nodejs)
#   KIT_JUPYTER_DATA_DIR   where to register the kernels (default: `jupyter --data-dir`,
#                          else $JUPYTER_DATA_DIR, else ~/.local/share/jupyter)
#   KIT_NODE_MODULES_LINK  a folder where notebooks run outside the project; it gets a
#                          node_modules link so `import ... from "kernel-lib"` resolves
#                          there (default on Colab: /content; elsewhere: none)
set -euo pipefail

KIT_REPO="${KIT_REPO:-https://github.com/autodiff-notebook-kit/autodiff-notebook-kit}"
KIT_NODE_VERSION="${KIT_NODE_VERSION:-22.22.0}"
KIT_NODE_VERSION="${KIT_NODE_VERSION#v}"
KIT_NODE_DIST_URL="${KIT_NODE_DIST_URL:-https://nodejs.org/dist}"
KIT_NODE_DIST_URL="${KIT_NODE_DIST_URL%/}"

say() { printf '[bootstrap] %s\n' "$*"; }
die() {
  printf '[bootstrap] error: %s\n' "$*" >&2
  exit 1
}

[ -n "${HOME:-}" ] || die "HOME is not set"
KIT_DIR="${KIT_DIR:-$HOME/autodiff-notebook-kit}"
KIT_NODE_HOME="${KIT_NODE_HOME:-$HOME/.local/lib/nodejs}"

# True if $1 runs and reports a version >= 20.19 (the lessons require() ES modules).
node_ok() {
  local v
  v="$("$1" --version 2>/dev/null)" || return 1
  [[ "$v" =~ ^v([0-9]+)\.([0-9]+)\. ]] || return 1
  local major="${BASH_REMATCH[1]}" minor="${BASH_REMATCH[2]}"
  ((major > 20 || (major == 20 && minor >= 19)))
}

download() { # URL FILE
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 3 -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    case "$1" in
      file://*) cp "${1#file://}" "$2" ;; # wget has no file:// scheme
      *) wget -q --tries=3 -O "$2" "$1" ;;
    esac
  else
    die "neither curl nor wget is installed; install one (e.g. apt-get install curl) and run this again"
  fi
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d' ' -f1
  else
    die "no sha256sum or shasum to check the Node download with"
  fi
}

# --- 1. Node ---------------------------------------------------------------
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64 | Linux-amd64) node_platform=linux-x64 ;;
  Linux-aarch64 | Linux-arm64) node_platform=linux-arm64 ;;
  *) node_platform="" ;;
esac
node_name="node-v${KIT_NODE_VERSION}-${node_platform}"
installed_bin="$KIT_NODE_HOME/$node_name/bin"

path_node="$(command -v node 2>/dev/null || true)"
node_from_path=0
if [ -n "$path_node" ] && node_ok "$path_node" && command -v npm >/dev/null 2>&1; then
  node_bin="$(dirname "$path_node")"
  node_from_path=1
  say "using Node $("$path_node" --version) from PATH: $path_node"
elif [ -n "$node_platform" ] && node_ok "$installed_bin/node"; then
  node_bin="$installed_bin"
  say "using Node $("$installed_bin/node" --version) installed earlier: $installed_bin/node"
else
  if [ -n "$path_node" ]; then
    say "the node on PATH ($path_node, $("$path_node" --version 2>/dev/null || echo 'version unknown')) is older than 20.19 or has no npm"
  else
    say "no node on PATH"
  fi
  [ -n "$node_platform" ] || die "there is no official Node tarball for $(uname -s) $(uname -m); install Node >= 20.19 with npm yourself, put it on PATH and run this again"
  command -v tar >/dev/null 2>&1 || die "tar is not installed"
  url="$KIT_NODE_DIST_URL/v$KIT_NODE_VERSION/$node_name.tar.gz"
  say "installing Node v$KIT_NODE_VERSION from $url into $KIT_NODE_HOME"
  mkdir -p "$KIT_NODE_HOME"
  work="$(mktemp -d "$KIT_NODE_HOME/.download.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  download "$url" "$work/$node_name.tar.gz" || die "could not download $url"
  download "$KIT_NODE_DIST_URL/v$KIT_NODE_VERSION/SHASUMS256.txt" "$work/SHASUMS256.txt" ||
    die "could not download $KIT_NODE_DIST_URL/v$KIT_NODE_VERSION/SHASUMS256.txt to check the download"
  want="$(awk -v f="$node_name.tar.gz" '$2 == f { print $1 }' "$work/SHASUMS256.txt")"
  [ -n "$want" ] || die "SHASUMS256.txt has no line for $node_name.tar.gz"
  got="$(sha256_of "$work/$node_name.tar.gz")"
  [ "$want" = "$got" ] || die "checksum mismatch for $url: expected $want, got $got"
  mkdir -p "$work/unpacked"
  tar -xzf "$work/$node_name.tar.gz" -C "$work/unpacked" || die "could not unpack $node_name.tar.gz"
  [ -x "$work/unpacked/$node_name/bin/node" ] || die "$node_name.tar.gz has no $node_name/bin/node"
  rm -rf "${KIT_NODE_HOME:?}/$node_name"
  mv "$work/unpacked/$node_name" "$KIT_NODE_HOME/$node_name"
  rm -rf "$work"
  trap - EXIT
  node_ok "$installed_bin/node" ||
    die "the Node just installed does not run or is too old: $installed_bin/node --version says '$("$installed_bin/node" --version 2>&1 || true)'"
  [ -x "$installed_bin/npm" ] || die "the Node tarball has no bin/npm"
  node_bin="$installed_bin"
  # So that `node` and `npm` also work in later shells that have ~/.local/bin on PATH.
  mkdir -p "$HOME/.local/bin"
  for tool in node npm npx; do
    [ -e "$installed_bin/$tool" ] && ln -sfn "$installed_bin/$tool" "$HOME/.local/bin/$tool"
  done
fi
export PATH="$node_bin:$PATH"
hash -r
node_exe="$node_bin/node"
[ "$(command -v node)" = "$node_exe" ] || die "expected node to be $node_exe on PATH, found $(command -v node)"
say "Node $(node --version), npm $(npm --version)"

# --- 2. The project ----------------------------------------------------------
command -v git >/dev/null 2>&1 || die "git is not installed (e.g. apt-get install git)"
if [ -d "$KIT_DIR/.git" ]; then
  say "updating $KIT_DIR (git pull --ff-only)"
  git -C "$KIT_DIR" pull --ff-only ||
    die "could not fast-forward $KIT_DIR: it has local commits or changes; commit or stash them (or move the folder away) and run this again"
elif [ -e "$KIT_DIR" ] && [ -n "$(ls -A "$KIT_DIR" 2>/dev/null)" ]; then
  die "$KIT_DIR exists but is not a git checkout; move it away or set KIT_DIR to another folder"
else
  say "cloning $KIT_REPO into $KIT_DIR"
  git clone --depth 1 "$KIT_REPO" "$KIT_DIR"
fi
say "at commit $(git -C "$KIT_DIR" rev-parse --short HEAD)"

cd "$KIT_DIR"
say "npm ci (installs tslab and kernel-lib's dependencies, builds kernel-lib)"
npm ci --no-audit --no-fund
[ -f kernel-lib/dist/runner/index.js ] || npm run build # in case npm was set to ignore scripts
[ -f kernel-lib/dist/runner/index.js ] || die "kernel-lib did not build (kernel-lib/dist/runner/index.js is missing)"

# --- 3. The kernels ----------------------------------------------------------
if [ -n "${KIT_JUPYTER_DATA_DIR:-}" ]; then
  data_dir="$KIT_JUPYTER_DATA_DIR"
elif command -v jupyter >/dev/null 2>&1 && data_dir="$(jupyter --data-dir 2>/dev/null)" && [ -n "$data_dir" ]; then
  :
else
  data_dir="${JUPYTER_DATA_DIR:-$HOME/.local/share/jupyter}"
fi
"$node_exe" scripts/register-kernels.cjs "$data_dir" "[bootstrap]"
if command -v jupyter >/dev/null 2>&1; then
  if jupyter kernelspec list 2>/dev/null | grep -qE '^[[:space:]]*tslab[[:space:]]'; then
    say "\`jupyter kernelspec list\` shows tslab"
  else
    say "warning: \`jupyter kernelspec list\` ($(command -v jupyter)) does not show tslab; your Jupyter server may read another data folder (set KIT_JUPYTER_DATA_DIR)"
  fi
fi

# Notebooks opened outside the project's folder (Colab runs every notebook in
# /content) resolve `kernel-lib` and `tslab` through a node_modules link.
if [ -z "${KIT_NODE_MODULES_LINK+set}" ] && [ -n "${COLAB_RELEASE_TAG:-}" ] && [ -d /content ]; then
  KIT_NODE_MODULES_LINK=/content
fi
if [ -n "${KIT_NODE_MODULES_LINK:-}" ]; then
  link="$KIT_NODE_MODULES_LINK/node_modules"
  if [ -e "$link" ] && [ ! -L "$link" ]; then
    say "warning: $link exists and is not a link; left as it is, so notebooks there may not find kernel-lib"
  else
    mkdir -p "$KIT_NODE_MODULES_LINK"
    ln -sfn "$KIT_DIR/node_modules" "$link"
    say "linked $link -> $KIT_DIR/node_modules"
  fi
fi

lesson="$KIT_DIR/notebooks/01-automatic-differentiation.ipynb"
cat <<MSG

[bootstrap] Done: Node $(node --version) at $node_exe, the project at $KIT_DIR,
            the kernel "TypeScript (tslab)" (name: tslab) in $data_dir/kernels/tslab.

How to use it
  JupyterLab / Jupyter Notebook (JupyterHub, Binder-like hosts, your own server):
    open $lesson
    (the lessons already ask for the tslab kernel). For any other notebook:
    Kernel -> Change Kernel... -> "TypeScript (tslab)". If it is not listed yet,
    reload the browser page so Jupyter reads the new kernel.

  Google Colab (not tested by this project): Colab's menus offer only Python,
    R and Julia runtimes, so "TypeScript (tslab)" cannot be picked there. What
    people did for Julia before Colab offered it: open a notebook whose metadata
    names the kernel (every lesson names tslab); Colab does not find it and runs
    Python; run this script in a cell of that notebook
      !curl -fsSL https://raw.githubusercontent.com/autodiff-notebook-kit/autodiff-notebook-kit/HEAD/scripts/bootstrap-hosted.sh | bash
    then reload the page: Colab reportedly starts the kernel the metadata names
    once the runtime has it (on Colab this script also links /content/node_modules
    so notebooks there find kernel-lib). Each Colab notebook gets its own runtime
    and a reset runtime loses everything: run it again then. Google does not
    support this and may change it; if the notebook still runs Python, use
    Binder (see the README) or a Jupyter of your own (npm start).
MSG
if [ "$node_from_path" = 0 ]; then
  cat <<MSG

This Node is not on the PATH of new shells unless ~/.local/bin is; to use node
and npm in a terminal: export PATH="$node_bin:\$PATH"
MSG
fi
