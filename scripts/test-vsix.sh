#!/usr/bin/env bash
# `npm run test:vsix`: packages the extension (npm run package) and runs a slice of the integration suite against
# the installed VSIX in the VS Code server (scripts/run-vscode-tests.mjs --vsix): the kernel starts from the
# packaged bundle and dawn.node, %device shows the adapter, hovers answer, and the memory panel's webview loads from
# the package. LLMNB_TEST_GREP overrides the slice.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "[test-vsix] package"
vsix="$(node scripts/package.mjs | tail -n 1)"
bash scripts/setup-vscode-server.sh
echo "[test-vsix] run the suite against $vsix"
LLMNB_TEST_GREP="${LLMNB_TEST_GREP:-%device|hovers|memory panel}" node scripts/run-vscode-tests.mjs --vsix "$vsix"
