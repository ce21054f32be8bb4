#!/usr/bin/env bash
# `npm test`: installs what is missing, builds, type-checks, then runs the unit tests and the integration
# tests inside a real VS Code extension host. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The matmul autotune's choices go to a cache of the test runs' own (measured once per machine, not the user's).
export LLMNB_CACHE_DIR="${LLMNB_CACHE_DIR:-$PWD/test/artifacts/cache}"
echo "[test] type-check"
npm run --silent typecheck
echo "[test] unit tests"
node scripts/run-unit-tests.mjs
echo "[test] integration tests (a real VS Code extension host: VS Code server + headless Chromium)"
bash scripts/setup-vscode-server.sh
node scripts/run-vscode-tests.mjs
echo "[test] UI flows (Playwright drives the workbench like a person: Run All, hover, memory panel, Load Weights in Place; screenshots in test/artifacts/ui/)"
node scripts/run-vscode-tests.mjs --ui
