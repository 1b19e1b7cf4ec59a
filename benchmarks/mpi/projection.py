#!/usr/bin/env python3
"""How long the paper's 17 Flowers protocol takes on N nodes of the machine measured, projected from
two measured numbers (benchmarks/mpi/scaling.sh prints both):

  --rank-gflops   effective GFLOP/s of one rank (1 thread) in adversarial training: images/s of the
                  ResNet-20 PGD-5 training run × its FLOPs per image (computed below)
  --latency, --seconds-per-byte   MPI_Allreduce's cost, t(bytes) = latency + bytes · s/byte
                  (atalp bench-allreduce)

and the protocol's size (pipelines/flowers17.yaml; the paper's Table 1 with ten defenses):
1360 images, 20 % test (272), 100 held out, 988 trained on for 60 epochs in batches of 32 (31 steps
per epoch); ResNet-101 at 224×224; PGD-10 adversarial training for the defenses trained against an
attack; each defense twice (the model and its gray-box copy) plus a ResNet-152 black-box source;
PGD-200 at ε ∈ {0.25, 0.5}, gray-box (per defense) and black-box (one source), evaluation batches of 32.

Work is counted in forward-pass equivalents (fwd = 1; forward + input gradient = 2; forward + all
gradients = 3): a PGD-k training step costs 2k + 3 per image, AT+ALP's clean branch 3 more. Every
adversarially trained defense is costed as AT+ALP (26 units; PAT's 23 is lower), the two without an
attack (no defense, Randomization) at 3. A node has --cores cores, one rank per core or one rank with
that many threads, assumed to scale linearly within the node.

Scheduling: the 21 trainings and 22 attack sets are independent stages; groups of s nodes
(atalp run --groups) take them longest first; a training on s nodes splits each batch of 32 (so s ≤ 32:
scaling of one training stops at one image per node), all-reduces 170 MB of gradients per step (ring:
2(s−1)/s · bytes) and 3 small all-reductions per batch-norm layer and pass (synchronised batch norm);
an attack set on s nodes splits its 9 batches (s ≤ 9 useful). The best group size is chosen per N.
"""
import argparse, math

def resnet20_flops_28():
    """Forward FLOPs (2 × multiply-adds) of ResNet-20 (widths 16/32/64) on 1×28×28."""
    macs = 28 * 28 * 16 * 9 * 1                                   # stem
    macs += 6 * 28 * 28 * 16 * 16 * 9                             # stage 1: 3 blocks × 2 convs
    macs += 14 * 14 * 32 * 16 * 9 + 5 * 14 * 14 * 32 * 32 * 9     # stage 2
    macs += 7 * 7 * 64 * 32 * 9 + 5 * 7 * 7 * 64 * 64 * 9         # stage 3
    return 2 * macs

RESNET101_FLOPS = 2 * 7.8e9      # 224×224 forward, He et al. 2016 (7.8 G multiply-adds)
RESNET152_FLOPS = 2 * 11.5e9
RESNET101_PARAMS = 42.5e6        # with a 17-class head
BN_LAYERS_101 = 104

def main():
    a = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_argument("--train-images-per-second", type=float, required=True,
                   help="measured: one rank, 1 thread, ResNet-20 PGD-5 training (images / wall seconds)")
    a.add_argument("--latency", type=float, required=True, help="measured MPI_Allreduce latency, seconds")
    a.add_argument("--seconds-per-byte", type=float, required=True, help="measured MPI_Allreduce cost per byte")
    a.add_argument("--cores", type=int, default=2, help="cores per node (this machine: 2)")
    a.add_argument("--nodes", type=int, nargs="+", default=[8, 32, 128])
    o = a.parse_args()

    per_image_r20 = (2 * 5 + 3) * resnet20_flops_28()
    rank_flops = o.train_images_per_second * per_image_r20          # FLOP/s of one core
    node_flops = rank_flops * o.cores
    print(f"measured: {o.train_images_per_second:.1f} images/s per rank = {rank_flops / 1e9:.1f} GFLOP/s per core "
          f"(ResNet-20 PGD-5 step: {per_image_r20 / 1e9:.2f} GFLOP per image); node of {o.cores} cores: {node_flops / 1e9:.1f} GFLOP/s")
    print(f"allreduce: {o.latency * 1e6:.1f} µs + {o.seconds_per_byte:.3g} s/byte ({1 / o.seconds_per_byte / 1e9:.2f} GB/s)")

    batch, steps = 32, 60 * (988 // 32)
    grad_bytes = 4 * RESNET101_PARAMS
    def allreduce(bytes_, s):
        return 0 if s == 1 else 2 * (s - 1) / s * bytes_ * o.seconds_per_byte + 2 * (s - 1) * o.latency
    def train_time(units, flops, s, adversarial):
        per_node = math.ceil(batch / s)
        compute = per_node * units * flops / node_flops
        passes = 2 if adversarial else 1
        comm = allreduce(grad_bytes, s) + (3 * BN_LAYERS_101 * passes * 2 * math.ceil(math.log2(s)) * o.latency if s > 1 else 0)
        # validation after each epoch (100 images, PGD-10 when adversarial), sharded over the s nodes; per step
        validation = math.ceil(100 / s) * (21 if adversarial else 1) * flops / node_flops / 31
        return steps * (compute + comm + validation), compute, comm
    # 10 defenses × 2 (model, gray-box copy): 8 adversarial (26 units), 2 not (3); the ResNet-152 source (3).
    trainings = [(26, RESNET101_FLOPS, True)] * 16 + [(3, RESNET101_FLOPS, False)] * 4 + [(3, RESNET152_FLOPS, False)]
    # attack sets: 10 gray-box sources × 2 ε on ResNet-101, 1 black-box source × 2 ε on ResNet-152; 272 images, 9 batches
    sets = [RESNET101_FLOPS] * 20 + [RESNET152_FLOPS] * 2
    def attack_time(flops, s):
        return math.ceil(9 / s) * 32 * (2 * 200 + 1) * flops / node_flops
    evaluation = 10 * 2 * 2 * 5 * 272 * RESNET101_FLOPS / node_flops   # forward passes, per target: 2 threat models × 2 ε × 5 counts

    def makespan(jobs, groups):
        loads = [0.0] * groups
        for j in sorted(jobs, reverse=True):
            i = loads.index(min(loads)); loads[i] += j
        return max(loads)

    one_step = train_time(26, RESNET101_FLOPS, 1, True)
    print(f"one node, AT+ALP ResNet-101 training step of 32 images: {one_step[1]:.0f} s compute; one training {one_step[0] / 86400:.1f} days")
    print(f"{'nodes':>6} {'group size':>10} {'groups':>6} {'training':>12} {'attacks':>10} {'total':>10}  per step (s nodes): compute / allreduce")
    for n in o.nodes:
        best = None
        for s in range(1, min(n, batch) + 1):
            g = n // s
            t_train = makespan([train_time(u, f, s, adv)[0] for u, f, adv in trainings], g)
            t_attack = makespan([attack_time(f, min(s, 9)) for f in sets], g) + evaluation / n
            if best is None or t_train + t_attack < best[0]:
                best = (t_train + t_attack, s, g, t_train, t_attack)
        total, s, g, t_train, t_attack = best
        _, c, m = train_time(26, RESNET101_FLOPS, s, True)
        print(f"{n:>6} {s:>10} {g:>6} {t_train / 3600:>10.1f} h {t_attack / 3600:>8.1f} h {total / 3600:>8.1f} h  {c:.1f} s / {m:.2f} s")
    fastest_training = train_time(26, RESNET101_FLOPS, batch, True)
    print(f"scaling stops: one training cannot use more than {batch} nodes (one image each: {fastest_training[1]:.1f} s compute + "
          f"{fastest_training[2]:.2f} s allreduce per step, {fastest_training[0] / 3600:.1f} h per model); one attack set not more than 9; "
          f"so the protocol's 21 trainings use at most {21 * batch} nodes and its longest training bounds the total.")

if __name__ == "__main__":
    main()
