#!/usr/bin/env bash
# The benchmark tables on a machine with a real GPU, in under 5 minutes: installs the npm packages (npm ci, nothing
# else), builds, stops with a message when llmnb finds no GPU adapter (it would fall back to SwiftShader on the
# CPU), then runs short versions of bench/matmul, bench/forward and bench/train, each within what is left of the
# time budget, and prints their tables. Results are appended to bench/results/*.jsonl as in a full run.
#
# Usage: bash bench/gpu-check.sh
# Environment:
#   LLMNB_GPU_CHECK_BUDGET=270    seconds for the three benchmarks (install and build come before, ~1 min)
#   LLMNB_GPU_CHECK_TORCH=1       also run the PyTorch peer (CPU; only the demo model, the 8B-shaped one takes minutes)
#   LLMNB_GPU_CHECK_SKIP_INSTALL=1  keep an existing node_modules (no npm ci)
#   LLMNB_GPU_CHECK_ALLOW_SOFTWARE=1  run on a software adapter anyway (to test this script on a CPU-only machine)
# Needs Node.js >= 20 and npm; a Vulkan (Linux), Metal (macOS) or D3D12 (Windows) GPU driver; ~7 GB of free disk
# for the cached random models in bench/.cache/ (made on the first run).
set -euo pipefail
cd "$(dirname "$0")/.."
budget=${LLMNB_GPU_CHECK_BUDGET:-270}

say() { printf '\n[gpu-check] %s\n' "$*"; }
fail() { printf '\n[gpu-check] FAILED: %s\n' "$*" >&2; exit 1; }

command -v node >/dev/null || fail "node is not installed (need Node.js >= 20)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || fail "Node.js $(node --version) is too old: need >= 20"

if [ "${LLMNB_GPU_CHECK_SKIP_INSTALL:-0}" = 1 ] && [ -d node_modules ]; then
  say "keeping node_modules (LLMNB_GPU_CHECK_SKIP_INSTALL=1)"
else
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
say "build"
npm run --silent build

say "adapter"
set +e
node --import tsx bench/adapter-check.ts
adapter_status=$?
set -e
if [ "$adapter_status" = 2 ]; then
  if [ "${LLMNB_GPU_CHECK_ALLOW_SOFTWARE:-0}" = 1 ]; then
    say "software adapter: going on because LLMNB_GPU_CHECK_ALLOW_SOFTWARE=1 (timings are of the CPU, not a GPU)"
  else
    fail "no GPU adapter found, so the numbers would be of SwiftShader on the CPU; see the message above"
  fi
elif [ "$adapter_status" != 0 ]; then
  fail "could not open a WebGPU device (exit $adapter_status)"
fi

torch_flag=--no-torch
[ "${LLMNB_GPU_CHECK_TORCH:-0}" = 1 ] && torch_flag=
start=$(date +%s)
failed=()
# run NAME ARGS...: one benchmark within what is left of the budget.
run() {
  local name=$1; shift
  local left=$(( budget - ($(date +%s) - start) ))
  if [ "$left" -lt 15 ]; then
    say "skipping bench/$name: the time budget is used up"
    failed+=("$name (no time left)")
    return
  fi
  say "bench/$name $* (at most ${left} s)"
  set +e
  timeout --signal=INT --kill-after=10 "$left" node --import tsx "bench/$name.ts" "$@"
  local status=$?
  set -e
  case $status in
    0) ;;
    124|130) failed+=("$name (stopped at the time budget)") ;;
    *) failed+=("$name (exit $status)") ;;
  esac
}

run matmul --rounds 2
run forward --models demo --rounds 3 --torch-rounds 1 $torch_flag
run train --models demo --steps 2 $torch_flag
run forward --models 8b-2 --rounds 2 --no-torch
run train --models 8b-2 --steps 2 --no-torch

say "done in $(( $(date +%s) - start )) s of benchmarks; results appended under bench/results/"
if [ ${#failed[@]} -gt 0 ]; then
  printf '[gpu-check] not clean: %s\n' "${failed[@]}" >&2
  exit 1
fi
