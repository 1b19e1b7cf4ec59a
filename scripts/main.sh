#!/usr/bin/env bash
# The main job on the default data: set up, build, then train ResNet-20 on Fashion-MNIST and report
# its clean test accuracy (the pipeline's quick.yaml replaces this once the pipeline exists).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p reports
.build/release/atalp train --model resnet20 --epochs "${EPOCHS:-12}" --output reports/resnet20-none.h5 "$@"
