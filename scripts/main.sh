#!/usr/bin/env bash
# The main job on the default data: set up, build, then run pipelines/quick.yaml end to end
# (Fashion-MNIST, ResNet-20, no defense / PAT / ALP / AT / AT+ALP, white-, gray- and black-box PGD)
# and print where its report is. Rerunning it reuses every stage already in the store.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.build/release/atalp run pipelines/quick.yaml "$@"
