#!/usr/bin/env bash
# `npm run demo`: installs what is missing, builds, then runs examples/spam-classifier.llmnb headlessly (data split,
# a Llama 3-architecture model, head replacement, fine-tuning, evaluation, save, in-place reload). The notebook with
# its outputs is written to examples/out/spam-classifier.llmnb.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p examples/out
exec node bin/llmnb run examples/spam-classifier.llmnb --out examples/out/spam-classifier.llmnb
