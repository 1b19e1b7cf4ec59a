#!/usr/bin/env bash
# The robustness experiment (README, "The robustness experiment"): set up, build, then train no
# defense, PAT, ALP, AT and AT+ALP (ε = 0.1) on Fashion-MNIST with ResNet-20 and attack each
# white-box with PGD-20 at ε = 0.1 and 0.25.
# About 40 minutes on 2 idle cores; the report lands in reports/experiment-fmnist/. Rerunning it
# reuses every finished stage, and a killed training run resumes where it stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.build/release/atalp run pipelines/experiment-fmnist.yaml "$@"
