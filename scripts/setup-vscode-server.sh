#!/usr/bin/env bash
# Installs the VS Code server that the integration tests run in: the VS Code (reh-web) build shipped inside the
# npm package `code-server`, with its native modules built here. Only the npm registry is needed.
#
# code-server's own postinstall cannot run offline (kerberos needs libkrb5-dev, old @vscode/ripgrep downloads rg
# from GitHub, argon2 tries a GitHub prebuilt), so it is installed with --ignore-scripts and the modules the server
# needs on Linux are rebuilt with node-gyp against this Node's headers. Idempotent: a finished install is marked
# with .complete and skipped.
#
# Env: CODE_SERVER_VERSION (default 4.100.3 = VS Code 1.100.3, the newest that runs on Node 20)
#      VSCODE_TEST_DIR     (default .vscode-test, relative to the repository root)
# Last line of output: CODE_SERVER_DIR=... (what scripts/run-vscode-tests.mjs reads; it also finds the default path).
set -euo pipefail
cd "$(dirname "$0")/.."

version="${CODE_SERVER_VERSION:-4.100.3}"
dest="${VSCODE_TEST_DIR:-.vscode-test}"
mkdir -p "$dest"
dest="$(cd "$dest" && pwd)"
root="$dest/code-server-$version"
cs="$root/node_modules/code-server"
npm_flags=(--no-audit --no-fund --loglevel=error)
t0=$(date +%s)
say() { echo "[setup-vscode +$(( $(date +%s) - t0 ))s] $*"; }

if [ -f "$root/.complete" ]; then
  say "VS Code server already installed in $cs"
  echo "CODE_SERVER_DIR=$cs"
  exit 0
fi

rm -rf "$root"
mkdir -p "$root"
cd "$root"
echo '{"name":"llmnb-vscode-test-server","private":true}' > package.json

say "npm install code-server@$version (scripts off)"
npm install "${npm_flags[@]}" --ignore-scripts "code-server@$version"
say "build argon2 from source"
npm rebuild "${npm_flags[@]}" argon2

cd "$cs/lib/vscode"
say "install the VS Code server's runtime dependencies (scripts off)"
npm install "${npm_flags[@]}" --omit=dev --ignore-scripts
native=()
for m in node-pty @vscode/spdlog native-watchdog @vscode/native-watchdog @vscode/deviceid @parcel/watcher \
         @vscode/fs-copyfile @vscode/sqlite3; do
  [ -d "node_modules/$m" ] && native+=("$m")
done
say "build native modules: ${native[*]}"
# node-pty's install step runs `npx node-gyp`; npm_config_yes lets npx fetch it without asking.
npm_config_yes=true npm rebuild "${npm_flags[@]}" "${native[@]}"

if [ -d node_modules/@vscode/ripgrep ] && [ ! -x node_modules/@vscode/ripgrep/bin/rg ]; then
  say "ripgrep from the npm package @vscode/ripgrep-linux-x64"
  tmp="$(mktemp -d "$dest/rg.XXXX")"
  (cd "$tmp" && npm pack --silent "@vscode/ripgrep-linux-x64@1.18.0" >/dev/null && tar xzf vscode-ripgrep-linux-x64-1.18.0.tgz)
  mkdir -p node_modules/@vscode/ripgrep/bin
  cp "$tmp/package/bin/rg" node_modules/@vscode/ripgrep/bin/rg
  rm -rf "$tmp"
fi
# What remains of code-server's postinstall.sh: a few links.
if grep -q symlink_asar "$cs/postinstall.sh"; then ln -sfn node_modules node_modules.asar; fi
(cd bin/remote-cli && ln -sfn code-linux.sh code-server)
(cd bin/helpers && ln -sfn browser-linux.sh browser.sh)
say "built-in extensions' dependencies"
(cd extensions && npm install "${npm_flags[@]}" --omit=dev)

node -e '
  for (const m of ["node-pty", "@vscode/spdlog", "@parcel/watcher"]) require(require.resolve(m, { paths: [process.cwd()] }));'
touch "$root/.complete"
say "VS Code $(node -p "require('./product.json').version") server ready in $cs ($(du -sh "$root" | cut -f1))"
echo "CODE_SERVER_DIR=$cs"
