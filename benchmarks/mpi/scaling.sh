#!/usr/bin/env bash
# Parallel efficiency of atalp over MPI on this machine: 2 ranks × 1 thread against 1 rank × 1 thread,
# side by side in one run, for
#   1. a ResNet-20 PGD-5 adversarial-training epoch (PAT, ε 0.1, batch 128) on TRAIN_IMAGES Fashion-MNIST
#      images (default 1024: 8 steps; a full 60 000-image epoch takes 60000/TRAIN_IMAGES times as long), and
#   2. a PGD-20 white-box attack (adversarial-generate stage, batches of 100) on ATTACK_IMAGES test images
#      (default 400; the issue's 2000 take 5× as long at the same efficiency),
# then MPI_Allreduce's latency and cost per byte (atalp bench-allreduce). Efficiency = T₁ / (2 · T₂).
# The attack also runs as two independent 1-rank processes of half the images at once (the control: what
# the machine allows two processes), and prints each rank's timeline — start-up, MPI_Init, loading, every
# batch, gathering, the leader's writes — and where the 2-rank run loses against T₁/2 (timeline.py).
# ONLY=training|attack|allreduce runs one part.
# Training runs twice on 2 ranks: synchronised batch norm (the default: 3 small all-reductions per
# batch-norm layer and pass, each a point where both ranks must be running) and local batch norm (one
# all-reduction per step). Waiting ranks yield the core (mpi_yield_when_idle) rather than spin: on a
# shared 2-core machine a spinning rank takes the core its partner needs.
# Wall times include process start and data loading (well under a second). Prints `uptime` and the
# busy cores before each part: on a loaded machine the efficiency measured is not the idle one.
#
#     bash benchmarks/mpi/scaling.sh            # after swift build -c release
set -euo pipefail
cd "$(dirname "$0")/../.."
ATALP=${ATALP:-.build/release/atalp}
TRAIN_IMAGES=${TRAIN_IMAGES:-1024}
ATTACK_IMAGES=${ATTACK_IMAGES:-400}
MPIRUN=(mpirun -np 2 --oversubscribe --bind-to none --mca btl self,vader,tcp --mca btl_tcp_if_include lo
        --mca oob_tcp_if_include lo --mca btl_vader_single_copy_mechanism none --mca mpi_yield_when_idle 1)
[ "$(id -u)" -eq 0 ] && MPIRUN+=(--allow-run-as-root)
export ATALP_THREADS=1 OMP_WAIT_POLICY=passive
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

now() { date +%s.%N; }
elapsed() { python3 -c "print(f'{$2 - $1:.2f}')"; }
efficiency() { python3 -c "print(f'{$1 / (2 * $2):.3f}')"; }
part() { [ -z "${ONLY:-}" ] || [ "$ONLY" = "$1" ]; }
# What other jobs took while a measurement ran: the machine's busy CPU time (/proc/stat) less the CPU time
# of this script's own children (bash's `times`), and the hypervisor's steal time. `mark` before, `others`
# after; a disturbed run says so instead of passing for an idle one.
cpu_state() {   # not in a subshell: `times` there would not see this shell's children
  times > "$work/times"
  read -r mine busy steal <<< "$(python3 - "$work/times" <<'PY'
import os, re, sys
children = open(sys.argv[1]).read().splitlines()[-1]
mine = sum(float(m) * 60 + float(s) for m, s in re.findall(r"(\d+)m([\d.]+)s", children))
f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
hz = os.sysconf("SC_CLK_TCK")
print(f"{mine} {(f[0] + f[1] + f[2] + f[5] + f[6]) / hz} {f[7] / hz if len(f) > 7 else 0}")
PY
)"
}
mark() { cpu_state; mark_mine=$mine; mark_busy=$busy; mark_steal=$steal; mark_time=$(now); }
others() {   # sets $quiet
  cpu_state; local t; t=$(now)
  quiet=$(python3 -c "o = max(0.0, ($busy - $mark_busy) - ($mine - $mark_mine)); w = $t - $mark_time
print(f'other jobs {o:.1f} core-s ({o / w:.2f} cores on average), steal {$steal - $mark_steal:.1f} s')")
}
# Cores busy over 2 s (from /proc/stat), what other jobs take before a part starts; 0 on an idle machine.
busy() {
  read -r _ u n s i w x y z _ < /proc/stat; sleep 2; read -r _ u2 n2 s2 i2 w2 x2 y2 z2 _ < /proc/stat
  python3 -c "b = $(( (u2+n2+s2+x2+y2+z2) - (u+n+s+x+y+z) )); i = $(( (i2+w2) - (i+w) )); print(f'{$(nproc) * b / max(b + i, 1):.2f}')"
}

echo "== load before: $(uptime); busy cores: $(busy)"
if part training; then
echo "== 1. ResNet-20 PGD-5 training, $TRAIN_IMAGES images, batch 128 (1 thread per rank)"
train=("$ATALP" train --model resnet20 --defense pat --epsilon 0.1 --attack-iterations 5 --epochs 1 --batch-size 128
       --train-limit "$TRAIN_IMAGES" --test-limit 16 --seed 0)
t0=$(now); "${train[@]}" > "$work/train1.log" 2>&1; t1=$(now)
"${MPIRUN[@]}" "${train[@]}" > "$work/train2.log" 2>&1; t2=$(now)
"${MPIRUN[@]}" "${train[@]}" --batch-norm local > "$work/train2local.log" 2>&1; t3=$(now)
one=$(elapsed "$t0" "$t1"); two=$(elapsed "$t1" "$t2"); local=$(elapsed "$t2" "$t3")
echo "sync batch norm:  $(grep -h "communication:" "$work/train2.log" || true)"
echo "local batch norm: $(grep -h "communication:" "$work/train2local.log" || true)"
echo "training: 1 rank ${one} s; 2 ranks ${two} s (sync BN), efficiency $(efficiency "$one" "$two"); ${local} s (local BN), efficiency $(efficiency "$one" "$local")"

fi

if part attack; then
echo "== load: $(uptime); busy cores before: $(busy)"
echo "== 2. PGD-20 attack of $ATTACK_IMAGES images (ResNet-20, batches of 100)"
# The same file attacks the first HALF images for the control run (same data set and model).
half=$(( (ATTACK_IMAGES / 2 + 99) / 100 * 100 ))
for n in "$ATTACK_IMAGES" "$half"; do
cat > "$work/p$n.yaml" <<YAML
name: bench-mpi
data: {source: fashion-mnist, train_examples: 256, test_examples: $ATTACK_IMAGES}
training: {epochs: 1, batch_size: 64}
evaluation: {batch_size: 100}
models:
  - {name: m, architecture: resnet20, defense: {kind: none}}
attacks:
  - {name: pgd20, kind: pgd, threat_models: [white-box], epsilons: [0.1], iterations: [20], step_size: 0.01,
     examples: $n, seed: 0, checkpoint: last}
YAML
done
"$ATALP" run "$work/p$ATTACK_IMAGES.yaml" --store "$work/s1" --stage train > "$work/setup.log" 2>&1
for s in s2 s3 s4; do cp -a "$work/s1" "$work/$s"; done
# Every run records per-rank spans (ATALP_TIMELINE; Sources/Cluster/RankTimeline.swift), read by timeline.py.
attack=(run "$work/p$ATTACK_IMAGES.yaml" --stage attack:pgd20 --training-ranks 1)
mark; a0=$mark_time; ATALP_TIMELINE=$work/t1 "$ATALP" "${attack[@]}" --store "$work/s1" > "$work/attack1.log" 2>&1
others; quiet1=$quiet
mark; a1=$mark_time; ATALP_TIMELINE=$work/t2 "${MPIRUN[@]}" "$ATALP" "${attack[@]}" --store "$work/s2" > "$work/attack2.log" 2>&1
others; quiet2=$quiet; mark; a2=$mark_time
# Control: two independent 1-rank processes at once, each attacking half the images — what 2 ranks
# could reach if sharding cost nothing; T1 / (2 · this) is the machine's own ceiling on the efficiency.
ATALP_TIMELINE=$work/t3a "$ATALP" run "$work/p$half.yaml" --stage attack:pgd20 --store "$work/s3" > "$work/attack3a.log" 2>&1 &
ATALP_TIMELINE=$work/t3b "$ATALP" run "$work/p$half.yaml" --stage attack:pgd20 --store "$work/s4" > "$work/attack3b.log" 2>&1 &
wait; others; quiet3=$quiet; a3=$(now)
one=$(elapsed "$a0" "$a1"); two=$(elapsed "$a1" "$a2"); pair=$(elapsed "$a2" "$a3")
grep -h "in MPI" "$work/attack2.log" || true
same=$(diff <(grep -o 'adversarial[^ ]*' "$work/s1/runs"/*/*.json | sort | cut -d: -f2-) \
            <(grep -o 'adversarial[^ ]*' "$work/s2/runs"/*/*.json | sort | cut -d: -f2-) > /dev/null && echo "identical" || echo "DIFFERENT")
echo "attack: 1 rank ${one} s ($quiet1), 2 ranks ${two} s ($quiet2), efficiency $(efficiency "$one" "$two"); attack sets of 1 and 2 ranks: $same"
echo "control: two independent 1-rank processes of $half images each at once: ${pair} s ($quiet3; ceiling on the efficiency: $(efficiency "$one" "$pair"))"
echo "-- where the time goes, per rank (seconds; ATALP_TIMELINE spans)"
python3 benchmarks/mpi/timeline.py "$work/t1" "$a0" "$a1" --label "1 rank: "
python3 benchmarks/mpi/timeline.py "$work/t2" "$a1" "$a2" --label "2 ranks: "
python3 benchmarks/mpi/timeline.py "$work/t3a" "$a2" "$a3" --label "control, first process: "
python3 benchmarks/mpi/timeline.py "$work/t3b" "$a2" "$a3" --label "control, second process: "
python3 benchmarks/mpi/timeline.py compare "$work/t1" "$a0" "$a1" "$work/t2" "$a1" "$a2"

fi

if part allreduce; then
echo "== 3. MPI_Allreduce on 2 ranks (this machine: shared memory)"
"${MPIRUN[@]}" "$ATALP" bench-allreduce
fi
echo "== load after: $(uptime)"
