#!/usr/bin/env bash
# The README's "Cheaper adversarial training" table: AT+ALP (α = 0.5, β = 1) trained on the same
# Fashion-MNIST budget with PGD-5, FGSM-RS (Wong et al. 2020) and free training (Shafahi et al. 2019,
# m = 4), each then attacked white-box by PGD-20 at ε = 0.1. Wall times are printed by `time`.
#
#     ATALP_BACKEND=onednn bash benchmarks/fast-training.sh [OUT_DIR]
set -euo pipefail
out=${1:-.build/fast-training}
mkdir -p "$out"
atalp=${ATALP:-.build/release/atalp}
common=(--model resnet20 --train-limit 3000 --epochs 2 --batch-size 64 --learning-rate 0.1
        --defense atalp --alpha 0.5 --beta 1 --epsilon 0.1 --seed 0)
for method in pgd5 fgsm free; do
    case $method in
        pgd5) extra=(--attack-method pgd --attack-iterations 5) ;;
        fgsm) extra=(--attack-method fgsm) ;;
        free) extra=(--attack-method free --replays 4) ;;
    esac
    echo "== train $method"
    /usr/bin/time -f "$method training wall time: %e s" "$atalp" train "${common[@]}" "${extra[@]}" --test-limit 500 --output "$out/$method.h5"
done
for method in pgd5 fgsm free; do
    echo "== evaluate $method"
    "$atalp" evaluate "$out/$method.h5" --attack pgd --epsilon 0.1 --iterations 20 --test-limit 500 --seed 0
done
