#!/usr/bin/env bash
# Issue 19: does a ResNet-20 trained on each backend from the same seed reach the same clean and PGD
# accuracy, within seed noise? PAT (PGD-3 adversarial training at ε = 0.1) on 3000 Fashion-MNIST
# images for 3 epochs, seeds 0, 1, 2 on oneDNN (the seed noise) and seed 0 on the reference backend
# (OpenBLAS im2col), each attacked by white-box PGD-20 at ε = 0.1 on the first 1000 test images.
# The backend is not part of a cache key, so each backend gets its own store.
#
#     bash benchmarks/backend-agreement.sh        # after swift build -c release; ~15 min on 2 idle cores
set -euo pipefail
cd "$(dirname "$0")/.."
ATALP=${ATALP:-.build/release/atalp}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
pipeline() {  # $1: the seeds
    cat <<YAML
name: backend-agreement
data: {source: fashion-mnist, train_examples: 3200, test_examples: 1000}
seeds: $1
training: {epochs: 3, batch_size: 64, learning_rate: 0.1, schedule: cosine, weight_decay: 0.0005, crop_padding: 2,
           flip: false, validation_examples: 200}
defense: {attack: {epsilon: 0.1, step_size: 0.04, iterations: 3}}
models:
  - {name: pat, label: PAT, architecture: resnet20, defense: {kind: pat}}
attacks:
  - {name: pgd20, threat_models: [white-box], epsilons: [0.1], iterations: [20], step_size: 0.0125, examples: 1000,
     checkpoint: best}
YAML
}
pipeline "[0, 1, 2]" > "$work/onednn.yaml"
pipeline "[0]" > "$work/reference.yaml"
for backend in onednn reference; do
    start=$(date +%s)
    ATALP_BACKEND=$backend "$ATALP" run "$work/$backend.yaml" --store "$work/store-$backend" --report-dir "$work/report-$backend" \
        > "$work/$backend.log" 2>&1 || { cat "$work/$backend.log"; exit 1; }
    echo "$backend: $(( $(date +%s) - start )) s"
done
echo "backend,seed,clean accuracy,PGD-20 accuracy (1000 test images)"
for backend in onednn reference; do
    python3 - "$work/report-$backend/table1.csv" "$backend" <<'PY'
import csv, sys
for row in csv.DictReader(open(sys.argv[1])):
    print(f"{sys.argv[2]},{row['seed']},{float(row['clean_accuracy']):.3f},{float(row['accuracy']):.3f}")
PY
done
