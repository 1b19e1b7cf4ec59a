#!/usr/bin/env bash
# The main job on the default data: set up, build, then run pipelines/quick.yaml end to end
# (Fashion-MNIST, ResNet-20, the ten defenses of Table 1 plus TRADES and MART, white-, gray- and black-box PGD, the attack
# ensemble, and the activation analysis)
# and print where its report is. Rerunning it reuses every stage already in the store.
#
# With Open MPI (scripts/setup.sh installs it) and two or more cores, the job runs as one single-thread
# rank per core (at most 8), each rank a group computing independent stages side by side over the
# shared store (`atalp run --groups`, docs/cluster.md): small batches of 28×28 images keep the threads
# of one process from using the cores fully, separate processes do (2 cores, the engine of
# 2026-11-29: 32:44 as one process, 19:15 as two ranks; 13:16 as two ranks with today's, README). ATALP_MAIN_RANKS=1 runs it as one process.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cores=$(nproc)
ranks=${ATALP_MAIN_RANKS:-$(( cores < 8 ? cores : 8 ))}
if [ "$ranks" -ge 2 ] && command -v mpirun >/dev/null 2>&1; then
    mpirun=(mpirun -np "$ranks" --bind-to none --mca btl self,vader,tcp --mca btl_tcp_if_include lo
            --mca oob_tcp_if_include lo --mca btl_vader_single_copy_mechanism none --mca mpi_yield_when_idle 1)
    [ "$(id -u)" -eq 0 ] && mpirun+=(--allow-run-as-root)
    OMP_WAIT_POLICY=passive "${mpirun[@]}" .build/release/atalp run pipelines/quick.yaml --groups "$ranks" "$@"
else
    .build/release/atalp run pipelines/quick.yaml "$@"
fi
