#!/usr/bin/env python3
"""PyTorch peer of `atalp bench`: the same fixed workloads, timed in PyTorch on the CPU.

`atalp bench` runs this script on the same machine in the same run and prints the ratio
atalp / PyTorch for every (network, workload). See benchmarks/README.md.

THE CONTRACT -- the Swift bench must do exactly this (change both sides together)
================================================================================

Networks (the forward returns logits AND the output of every group, for the attention loss)
  resnet20   input 1x28x28 (Fashion-MNIST shaped)
             normalisation inside the model: (x - mean[c]) / std[c]
                 1 channel : mean 0.2860, std 0.3530
                 3 channels: mean (0.4914, 0.4822, 0.4465), std (0.2470, 0.2435, 0.2616)
             stem: conv3x3(in -> 16, stride 1, pad 1, no bias) + BN + ReLU
             3 groups x 3 BasicBlocks, widths 16/32/64, first-block strides 1/2/2
             BasicBlock: conv3x3(s)-BN-ReLU-conv3x3(1)-BN, + shortcut, then ReLU
                 shortcut = identity, or conv1x1(stride s, no bias) + BN where the shape
                 changes ("option B", PyTorch `downsample`)
             global average pool, Linear(64 -> 10)
  resnet18   input 3x32x32 (CIFAR shaped); small-image ResNet-18:
             same normalisation and stem but 64 channels, no max-pool,
             4 groups x 2 BasicBlocks, widths 64/128/256/512, first-block strides 1/2/2/2,
             global average pool, Linear(512 -> 10)
  BN: momentum 0.1, eps 1e-5, weight 1, bias 0. Convs (incl. 1x1 shortcuts): Kaiming-normal,
  fan_out, ReLU gain. Linear: PyTorch's default init (irrelevant to timing).
  Group outputs A_j = output of the last block of group j (after its final ReLU).

Inputs
  batch 128 (--batch), pixels uniform in [0, 1), labels uniform in 0..9, fixed seed (--seed, 0).
  The same batch is used for every timed iteration.

Workloads (one timed iteration = one of these)
  forward     eval mode, torch.no_grad(), logits.
  train-step  train mode: forward, softmax cross-entropy (mean over batch), backward,
              SGD(lr 0.1, momentum 0.9, weight decay 5e-4) step, zero grads (set to None).
  pgd-step    ONE PGD iteration, eval mode, parameters requires_grad=False, input requires grad,
              starting at the clean batch x (no random start):
                  forward, CE (reduction sum), g = d loss / d x_adv  (input gradient only),
                  x_adv <- clip(proj_eps(x_adv + 0.01 * sign(g)), 0, 1),  eps = 0.1
              (proj_eps = clamp to [x - eps, x + eps]; sum vs mean does not change sign(g)).
  pat-step    PGD-10 as in pgd-step but with a uniform random start in the eps-ball
              (x + U(-eps, eps), clipped to [0, 1]), then one train-step on the adversarial
              batch (train mode).
  atalp-step  PGD-10 as in pat-step, then in train mode a forward of the clean batch and a
              separate forward of the adversarial batch (BN statistics updated by both),
                  loss = CE(z_adv, y) + alpha * L_ALP + beta * L_AT,  alpha = 0.5, beta = 1.0
                  L_ALP = mean_b sum_k (z_clean - z_adv)^2
                  L_AT  = sum over ALL groups j of mean_b || q_adv/||q_adv||_2 - q_clean/||q_clean||_2 ||_2
                          q = vec(mean over channels of A_j^2), per example
              backward through BOTH branches (the clean branch is not detached), SGD step
              (as in train-step), zero grads.

Timing
  2 warm-up iterations, then at least --iterations (5) timed iterations and at least
  --min-time (3 s) of timed iterations, whichever is more. images/s = batch / MEDIAN
  iteration time. torch.set_num_threads(--threads, default os.cpu_count()).
  --layout channels_last (default) | nchw: channels_last puts the model and the inputs in
  torch.channels_last memory format.

Peak memory
  Every (network, workload) runs in its own fresh process (this script re-invoked with
  `--single NETWORK WORKLOAD`); peak_rss_bytes = ru_maxrss(RUSAGE_SELF) * 1024 at the end of
  that process (so it includes the Python interpreter and the torch library itself).

Output
  --json: one JSON object a line:
    {"framework":"pytorch","network":"resnet20"|"resnet18","input":"1x28x28"|"3x32x32",
     "batch":128,"workload":"forward"|"train-step"|"pgd-step"|"pat-step"|"atalp-step",
     "images_per_second":float,"peak_rss_bytes":int,"threads":int,
     "layout":"channels_last"|"nchw","torch_version":str}
  otherwise a readable table. --check: batch 4, one iteration of every workload in-process,
  verifies losses are finite, PGD stays in the eps-ball and [0, 1], pgd-step runs with
  parameter requires_grad off and leaves every parameter's .grad None; exit status 0 when all hold.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------------------------------------------------------------------------------------
# Constants of the contract
# ---------------------------------------------------------------------------------------------

NETWORKS = {
    # name: (input (C, H, W), stem width, group widths, blocks per group, first-block strides)
    "resnet20": ((1, 28, 28), 16, (16, 32, 64), 3, (1, 2, 2)),
    "resnet18": ((3, 32, 32), 64, (64, 128, 256, 512), 2, (1, 2, 2, 2)),
}
WORKLOADS = ("forward", "train-step", "pgd-step", "pat-step", "atalp-step")
NUM_CLASSES = 10
NORMALISATION = {
    1: ((0.2860,), (0.3530,)),
    3: ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}
BN_MOMENTUM = 0.1
BN_EPS = 1e-5
SGD_LR = 0.1
SGD_MOMENTUM = 0.9
SGD_WEIGHT_DECAY = 5e-4
PGD_EPS = 0.1
PGD_STEP = 0.01
PGD_ITERS_TRAINING = 10  # pat-step and atalp-step
ALPHA = 0.5  # L_ALP weight (benchmark constant)
BETA = 1.0  # L_AT weight (benchmark constant)
WARMUP = 2
DEFAULT_ITERATIONS = 5
DEFAULT_MIN_TIME = 3.0
DEFAULT_BATCH = 128
DEFAULT_SEED = 0
CHECK_BATCH = 4

# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------


def conv3x3(cin, cout, stride):
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


def bn(c):
    return nn.BatchNorm2d(c, eps=BN_EPS, momentum=BN_MOMENTUM)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = conv3x3(cin, cout, stride)
        self.bn1 = bn(cout)
        self.conv2 = conv3x3(cout, cout, 1)
        self.bn2 = bn(cout)
        self.downsample = None
        if stride != 1 or cin != cout:  # option B shortcut
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride=stride, bias=False), bn(cout)
            )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(out + shortcut)


class ResNet(nn.Module):
    """Small-image ResNet; forward returns (logits, [output of each group])."""

    def __init__(self, in_channels, stem, widths, blocks, strides, num_classes=NUM_CLASSES):
        super().__init__()
        mean, std = NORMALISATION[in_channels]
        self.register_buffer("mean", torch.tensor(mean).view(1, in_channels, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, in_channels, 1, 1))
        self.conv1 = conv3x3(in_channels, stem, 1)
        self.bn1 = bn(stem)
        groups = []
        cin = stem
        for width, stride in zip(widths, strides):
            layers = []
            for b in range(blocks):
                layers.append(BasicBlock(cin, width, stride if b == 0 else 1))
                cin = width
            groups.append(nn.Sequential(*layers))
        self.groups = nn.ModuleList(groups)
        self.fc = nn.Linear(cin, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        out = (x - self.mean) / self.std
        out = F.relu(self.bn1(self.conv1(out)))
        feats = []
        for group in self.groups:
            out = group(out)
            feats.append(out)
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)
        return self.fc(out), feats


def make_model(network):
    (c, _, _), stem, widths, blocks, strides = NETWORKS[network]
    return ResNet(c, stem, widths, blocks, strides)


def input_name(network):
    return "x".join(str(d) for d in NETWORKS[network][0])


# ---------------------------------------------------------------------------------------------
# Losses, attack, steps
# ---------------------------------------------------------------------------------------------


def set_params_requires_grad(model, flag):
    for p in model.parameters():
        p.requires_grad_(flag)


def attention(a):
    """q = vec(mean over channels of A^2), normalised to unit L2 norm per example."""
    q = a.pow(2).mean(dim=1).reshape(a.shape[0], -1)
    return F.normalize(q, p=2, dim=1)


def at_loss(feats_clean, feats_adv):
    total = 0.0
    for a_clean, a_adv in zip(feats_clean, feats_adv):
        total = total + (attention(a_adv) - attention(a_clean)).norm(p=2, dim=1).mean()
    return total


def alp_loss(z_clean, z_adv):
    return (z_clean - z_adv).pow(2).sum(dim=1).mean()


def pgd(model, x, y, iterations, random_start, generator):
    """L-inf PGD in eval mode; only the input gets a gradient. Leaves the model in eval mode
    with parameters requires_grad=False (callers restore what they need)."""
    model.eval()
    set_params_requires_grad(model, False)
    if random_start:
        noise = torch.empty_like(x).uniform_(-PGD_EPS, PGD_EPS, generator=generator)
        x_adv = (x + noise).clamp_(0.0, 1.0)
    else:
        x_adv = x.clone()
    lower, upper = x - PGD_EPS, x + PGD_EPS
    loss = None
    for _ in range(iterations):
        x_adv.requires_grad_(True)
        logits, _ = model(x_adv)
        loss = F.cross_entropy(logits, y, reduction="sum")
        (g,) = torch.autograd.grad(loss, [x_adv])
        with torch.no_grad():
            x_adv = x_adv + PGD_STEP * g.sign()
            x_adv = torch.maximum(torch.minimum(x_adv, upper), lower).clamp_(0.0, 1.0)
    return x_adv.detach(), loss.detach()


class Workload:
    """Holds model, optimiser and data of one (network, workload); step() runs one iteration
    and returns the loss tensor (or logits for forward)."""

    def __init__(self, network, workload, batch, layout, seed):
        torch.manual_seed(seed)
        self.workload = workload
        self.model = make_model(network)
        self.generator = torch.Generator().manual_seed(seed + 1)
        c, h, w = NETWORKS[network][0]
        self.x = torch.rand(batch, c, h, w, generator=self.generator)
        self.y = torch.randint(0, NUM_CLASSES, (batch,), generator=self.generator)
        if layout == "channels_last":
            self.model = self.model.to(memory_format=torch.channels_last)
            self.x = self.x.contiguous(memory_format=torch.channels_last)
        self.optimizer = torch.optim.SGD(
            self.model.parameters(),
            lr=SGD_LR,
            momentum=SGD_MOMENTUM,
            weight_decay=SGD_WEIGHT_DECAY,
        )
        self.step = getattr(self, "_" + workload.replace("-", "_"))
        self.last_adv = None

    def _train_on(self, x_batch):
        self.model.train()
        set_params_requires_grad(self.model, True)
        logits, _ = self.model(x_batch)
        loss = F.cross_entropy(logits, self.y)
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return loss.detach()

    def _forward(self):
        self.model.eval()
        with torch.no_grad():
            logits, _ = self.model(self.x)
        return logits

    def _train_step(self):
        return self._train_on(self.x)

    def _pgd_step(self):
        self.last_adv, loss = pgd(self.model, self.x, self.y, 1, False, self.generator)
        return loss

    def _pat_step(self):
        x_adv, _ = pgd(self.model, self.x, self.y, PGD_ITERS_TRAINING, True, self.generator)
        self.last_adv = x_adv
        return self._train_on(x_adv)

    def _atalp_step(self):
        x_adv, _ = pgd(self.model, self.x, self.y, PGD_ITERS_TRAINING, True, self.generator)
        self.last_adv = x_adv
        self.model.train()
        set_params_requires_grad(self.model, True)
        z_clean, feats_clean = self.model(self.x)
        z_adv, feats_adv = self.model(x_adv)
        loss = (
            F.cross_entropy(z_adv, self.y)
            + ALPHA * alp_loss(z_clean, z_adv)
            + BETA * at_loss(feats_clean, feats_adv)
        )
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return loss.detach()


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------


def peak_rss_bytes():
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def time_workload(args, network, workload):
    w = Workload(network, workload, args.batch, args.layout, args.seed)
    for _ in range(WARMUP):
        w.step()
    times = []
    start_all = time.perf_counter()
    while len(times) < args.iterations or time.perf_counter() - start_all < args.min_time:
        t0 = time.perf_counter()
        w.step()
        times.append(time.perf_counter() - t0)
    median = statistics.median(times)
    result = {
        "framework": "pytorch",
        "network": network,
        "input": input_name(network),
        "batch": args.batch,
        "workload": workload,
        "images_per_second": args.batch / median,
        "peak_rss_bytes": 0,
        "threads": torch.get_num_threads(),
        "layout": args.layout,
        "torch_version": torch.__version__,
    }
    extra = {"median_seconds": median, "iterations": len(times)}
    return result, extra


def run_single(args, network, workload):
    result, extra = time_workload(args, network, workload)
    result["peak_rss_bytes"] = peak_rss_bytes()
    # The parent reads the last stdout line: the result, plus the extras under "_extra".
    print(json.dumps(dict(result, _extra=extra)), flush=True)


def run_child(args, network, workload):
    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "--single", network, workload,
        "--threads", str(args.threads),
        "--layout", args.layout,
        "--batch", str(args.batch),
        "--iterations", str(args.iterations),
        "--min-time", str(args.min_time),
        "--seed", str(args.seed),
    ]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    lines = [l for l in proc.stdout.splitlines() if l.strip()]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(
            f"peer_pytorch: {network} {workload} failed (exit {proc.returncode})"
        )
    data = json.loads(lines[-1])
    extra = data.pop("_extra", {})
    return data, extra


def print_table_header(args):
    print(
        f"PyTorch {torch.__version__}  threads {args.threads}  layout {args.layout}  "
        f"batch {args.batch}  (median of >= {args.iterations} iterations / >= {args.min_time:g} s, "
        f"{WARMUP} warm-up)"
    )
    print(
        f"{'network':<9} {'input':<8} {'workload':<11} {'images/s':>10} "
        f"{'ms/iter':>10} {'iters':>5} {'peak RSS MiB':>12}"
    )


def print_table_row(r, extra):
    print(
        f"{r['network']:<9} {r['input']:<8} {r['workload']:<11} "
        f"{r['images_per_second']:>10.1f} {extra.get('median_seconds', 0) * 1e3:>10.1f} "
        f"{extra.get('iterations', 0):>5} {r['peak_rss_bytes'] / 2**20:>12.1f}",
        flush=True,
    )


def run_check(args, networks):
    ok = True
    for network in networks:
        for workload in WORKLOADS:
            w = Workload(network, workload, CHECK_BATCH, args.layout, args.seed)
            out = w.step()
            problems = []
            if not torch.isfinite(out).all():
                problems.append("non-finite loss/logits")
            if workload == "pgd-step":
                if any(p.grad is not None for p in w.model.parameters()):
                    problems.append("pgd-step left a parameter .grad")
                if any(p.requires_grad for p in w.model.parameters()):
                    problems.append("pgd-step ran with parameter requires_grad on")
            if w.last_adv is not None:
                adv = w.last_adv
                if (adv - w.x).abs().max().item() > PGD_EPS + 1e-6:
                    problems.append("adversarial batch outside the eps-ball")
                if adv.min().item() < 0.0 or adv.max().item() > 1.0:
                    problems.append("adversarial batch outside [0, 1]")
            if workload in ("train-step", "pat-step", "atalp-step"):
                if any(p.grad is not None for p in w.model.parameters()):
                    problems.append("gradients not zeroed after the SGD step")
            value = out.float().mean().item() if workload == "forward" else out.item()
            status = "ok" if not problems else "FAIL: " + "; ".join(problems)
            print(f"{network:<9} {workload:<11} {value:>12.4f}  {status}", flush=True)
            ok = ok and not problems
    print("check passed" if ok else "check FAILED", flush=True)
    return 0 if ok else 1


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="PyTorch peer of `atalp bench` (see benchmarks/README.md)."
    )
    p.add_argument("--network", default="all", choices=list(NETWORKS) + ["all"])
    p.add_argument("--workload", default="all", choices=list(WORKLOADS) + ["all"])
    p.add_argument("--batch", type=int, default=DEFAULT_BATCH)
    p.add_argument("--iterations", type=int, default=DEFAULT_ITERATIONS,
                   help="minimum number of timed iterations (default 5)")
    p.add_argument("--min-time", type=float, default=DEFAULT_MIN_TIME,
                   help="minimum total timed seconds (default 3)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--layout", default="channels_last", choices=["channels_last", "nchw"])
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--check", action="store_true",
                   help="batch 4, one iteration of each workload, sanity checks")
    p.add_argument("--single", nargs=2, metavar=("NETWORK", "WORKLOAD"),
                   help=argparse.SUPPRESS)  # internal: one measurement in this process
    args = p.parse_args(argv)
    if args.batch < 1 or args.iterations < 1 or args.threads < 1 or args.min_time < 0:
        p.error("--batch, --iterations and --threads must be positive, --min-time >= 0")
    if args.single:
        net, wl = args.single
        if net not in NETWORKS or wl not in WORKLOADS:
            p.error(f"--single: unknown network or workload: {net} {wl}")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    torch.set_num_threads(args.threads)
    if args.single:
        run_single(args, *args.single)
        return 0
    networks = list(NETWORKS) if args.network == "all" else [args.network]
    workloads = list(WORKLOADS) if args.workload == "all" else [args.workload]
    if args.check:
        return run_check(args, networks)
    if not args.json:
        print_table_header(args)
    for network in networks:
        for workload in workloads:
            try:
                result, extra = run_child(args, network, workload)
            except (RuntimeError, ValueError) as error:
                print(error, file=sys.stderr, flush=True)
                return 1
            if args.json:
                print(json.dumps(result), flush=True)
            else:
                print_table_row(result, extra)
    return 0


if __name__ == "__main__":
    sys.exit(main())
