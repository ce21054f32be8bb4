#!/usr/bin/env bash
# Installs what llmnb needs on Debian: the Vulkan loader and Chromium (its SwiftShader ICD is the CPU WebGPU
# fallback; its browser drives the VS Code integration tests), then the npm packages. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1 ' || need+=(libvulkan1)
[ -x /usr/bin/chromium ] && [ -e /usr/lib/chromium/vk_swiftshader_icd.json ] || need+=(chromium)
if [ "${LLMNB_WITH_TORCH:-0}" = 1 ] && ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then need+=(python3-torch); fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "[setup] apt-get install ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "[setup] missing Debian packages: ${need[*]}" >&2
    echo "[setup] install them with: sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[setup] npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build
