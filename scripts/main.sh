#!/usr/bin/env bash
# The main job on the default data: set up, build, then run pipelines/quick.yaml end to end
# (Fashion-MNIST, ResNet-20, the ten defenses of Table 1, white-, gray- and black-box PGD, the attack
# ensemble, and the activation analysis)
# and print where its report is. Rerunning it reuses every stage already in the store.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.build/release/atalp run pipelines/quick.yaml "$@"
