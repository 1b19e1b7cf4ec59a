#!/usr/bin/env python3
"""atalp's attacks against the implementations the field trusts (PyTorch + torchattacks).

For checkpoints a pipeline trained (default: pipelines/quick.yaml's), each row runs one attack
twice on the same first N Fashion-MNIST test images — once in atalp (`atalp evaluate --json`), once
in PyTorch on the checkpoint's twin (twin.py) with torchattacks — and compares the accuracies:

    python3 benchmarks/conformance/conformance.py                     # table on stdout
    python3 benchmarks/conformance/conformance.py --markdown FILE     # and as Markdown

Tolerances (benchmarks/conformance/README.md):
  exact     deterministic paths (clean predictions, FGSM, PGD without random start, scoring the
            same images): |Δ| ≤ 0.5 % of the examples (float rounding of the two engines).
  sampling  paths with random starts, random search or random draws: |Δ| ≤ 2·√(Σᵢ (aᵢ − bᵢ)²)/N,
            aᵢ, bᵢ the per-example outcomes (share of draws correct), i.e. two standard deviations of
            the difference of two independent runs of the same attack (a McNemar-style bound from the
            discordant examples), at least 1/N.
"""
import argparse
import gzip
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np
import torch
import torchattacks

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twin  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def fashion_mnist_test(directory, n):
    with gzip.open(os.path.join(directory, "t10k-images-idx3-ubyte.gz")) as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)[:n]
    with gzip.open(os.path.join(directory, "t10k-labels-idx1-ubyte.gz")) as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)[:n]
    return torch.from_numpy(images.astype(np.float32) / 255), torch.from_numpy(labels.astype(np.int64))


class Atalp:
    """atalp's side: the CLI, one JSON row per call."""

    def __init__(self, binary, store, n, data_dir):
        self.binary, self.store, self.n, self.data_dir = binary, store, n, data_dir

    def checkpoints(self, pipeline, models):
        out = subprocess.run([self.binary, "status", pipeline, "--store", self.store, "--outputs"], capture_output=True, text=True)
        paths = {}
        for line in out.stdout.splitlines():
            stage, output, _, path = line.split(" ", 3)
            if stage.startswith("train:") and output == "best":
                paths[stage[len("train:"):]] = path
        missing = [m for m in models if m not in paths]
        if missing:
            sys.exit(f"conformance: no trained checkpoint for {missing} in {self.store}; run `atalp run {pipeline} --stage train` first")
        return paths

    def evaluate(self, checkpoint, *args):
        cmd = [self.binary, "evaluate", checkpoint, "--json", "--test-limit", str(self.n), "--data-dir", self.data_dir, *map(str, args)]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"conformance: {' '.join(cmd)} failed:\n{out.stderr}")
        rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
        return rows[-1]


def per_example(model, randomized, x, y, draws, seed):
    """Per example, the share of `draws` forward passes that classify it correctly (one pass if deterministic)."""
    torch.manual_seed(seed)
    shares = torch.zeros(len(y))
    with torch.no_grad():
        for _ in range(draws if randomized else 1):
            shares += (model(x).argmax(1) == y).float()
    return (shares / (draws if randomized else 1)).numpy()


def save_set(path, images, labels):
    with h5py.File(path, "w") as f:
        f["images"] = images.numpy().astype(np.float32)
        f["labels"] = labels.numpy().astype(np.int32)


def tolerance(kind, a, b, n):
    if kind == "exact":
        return 0.005
    return max(2 * math.sqrt(float(np.sum((np.asarray(a) - np.asarray(b)) ** 2))) / n, 1 / n)


class Table:
    """Rows of (atalp, reference) accuracies. Kinds: exact and sampling are conformance rows with a
    tolerance; bound says atalp's number must not exceed the reference column; contrast is shown
    for information only."""

    def __init__(self):
        self.rows = []

    def add(self, name, models, atalp_acc, ref_acc, kind, a=None, b=None, n=1, note=""):
        delta = atalp_acc - ref_acc
        agree = "" if a is None else f"{100 * float(np.mean(np.abs(np.asarray(a) - np.asarray(b)) < 1e-6)):.1f}"
        if kind in ("exact", "sampling"):
            tol = tolerance(kind, a, b, n)
            ok, tol_text = ("yes" if abs(delta) <= tol + 1e-9 else "NO"), f"±{100 * tol:.1f}"
        elif kind == "bound":
            ok, tol_text = ("yes" if atalp_acc <= ref_acc + 1e-9 else "NO"), "≤ 0"
        else:
            ok, tol_text = "—", "—"
        self.rows.append((name, models, 100 * atalp_acc, 100 * ref_acc, 100 * delta, tol_text, kind, agree, ok, note))
        print(f"{name:60s} {models:26s} atalp {100 * atalp_acc:5.1f}  ref {100 * ref_acc:5.1f}  Δ {100 * delta:+5.1f}  "
              f"tol {tol_text:>5s} ({kind})  agree {agree:>5s}%  {ok} {note}", flush=True)

    def markdown(self, header):
        lines = [header, "",
                 "| row | model(s) | atalp % | reference % | Δ points | tolerance | kind | per-example agreement % | inside |",
                 "|---|---|---:|---:|---:|---:|---|---:|---|"]
        for (name, models, a, r, d, t, kind, agree, ok, note) in self.rows:
            lines.append(f"| {name}{' (' + note + ')' if note else ''} | {models} | {a:.1f} | {r:.1f} | {d:+.1f} | {t} | {kind} | {agree} | {ok} |")
        return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--atalp", default=os.path.join(ROOT, ".build", "release", "atalp"))
    p.add_argument("--store", default=os.path.join(ROOT, "store"))
    p.add_argument("--pipeline", default=os.path.join(ROOT, "pipelines", "quick.yaml"))
    p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--examples", type=int, default=500)
    p.add_argument("--epsilon", type=float, default=0.1)
    p.add_argument("--step", type=float, default=0.02)
    p.add_argument("--iterations", type=int, default=10)
    p.add_argument("--apgd-iterations", type=int, default=20)
    p.add_argument("--square-queries", type=int, default=300)
    p.add_argument("--eot", type=int, default=5, help="EOT gradient draws per step on randomised models")
    p.add_argument("--draws", type=int, default=10, help="inference draws a randomised model's accuracy is the mean of")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--markdown", help="also write the table as Markdown to this file")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    n, eps, step, k = args.examples, args.epsilon, args.step, args.iterations
    atalp = Atalp(args.atalp, args.store, n, args.data_dir)
    x, y = fashion_mnist_test(args.data_dir, n)
    started = time.time()

    models = ["none", "pat", "atalp", "rat", "none#gray", "pat#gray", "resnet32-source"]
    paths = atalp.checkpoints(args.pipeline, models)
    twins = {m: twin.load(paths[m]) for m in models}
    table = Table()
    tmp = tempfile.mkdtemp(prefix="atalp-conformance-")
    clean_file = os.path.join(tmp, "clean.h5")
    save_set(clean_file, x, y)

    # 1. The twin: clean predictions of the same weights in both engines.
    for m in models:
        model, _, randomized = twins[m]
        a = atalp.evaluate(paths[m], "--adversarial", clean_file, "--inference-draws", args.draws)
        b = per_example(model, randomized, x, y, args.draws, 0)
        table.add("clean accuracy (twin check)", m, a["accuracies"][0], float(b.mean()), "sampling" if randomized else "exact",
                  a["correct"], b, n)

    # 2. White-box attacks on deterministic models, torchattacks as the reference.
    for m in ["none", "pat", "atalp"]:
        model, _, _ = twins[m]
        common = ["--epsilon", eps]

        def ref(attack):
            return per_example(model, False, attack(x, y), y, 1, 0)

        a = atalp.evaluate(paths[m], "--attack", "fgsm", "--source", paths[m], *common)
        b = ref(torchattacks.FGSM(model, eps=eps))
        table.add("FGSM", m, a["accuracies"][-1], float(b.mean()), "exact", a["correct"], b, n)

        # PGD's final iterate scored on the attacked model itself (atalp: a transfer set from the model to itself).
        pgd = ["--attack", "pgd", "--iterations", k, "--step-size", step, *common]
        a = atalp.evaluate(paths[m], *pgd, "--no-random-start", "--source", paths[m])
        b = ref(torchattacks.PGD(model, eps=eps, alpha=step, steps=k, random_start=False))
        table.add(f"PGD-{k}, no random start, final iterate", m, a["accuracies"][-1], float(b.mean()), "exact", a["correct"], b, n)
        a = atalp.evaluate(paths[m], *pgd, "--source", paths[m])
        b = ref(torchattacks.PGD(model, eps=eps, alpha=step, steps=k, random_start=True))
        table.add(f"PGD-{k}, random start, final iterate", m, a["accuracies"][-1], float(b.mean()), "sampling", a["correct"], b, n)
        # atalp's white-box score (an example is lost once any iterate fooled it) is at most the final iterate's.
        w = atalp.evaluate(paths[m], *pgd)
        table.add(f"PGD-{k} white-box score (any iterate) vs final iterate", m, w["accuracies"][-1], a["accuracies"][-1], "bound",
                  note="reference column: atalp's final iterate")

        ki = args.apgd_iterations
        a = atalp.evaluate(paths[m], "--attack", "apgd-ce", "--iterations", ki, *common)
        b = ref(torchattacks.APGD(model, norm="Linf", eps=eps, steps=ki, n_restarts=1, loss="ce", seed=0))
        table.add(f"APGD-CE ({ki} iterations)", m, a["accuracies"][-1], float(b.mean()), "sampling", a["correct"], b, n)
        a = atalp.evaluate(paths[m], "--attack", "apgd-t", "--iterations", ki, "--targets", 9, *common)
        b = ref(torchattacks.APGDT(model, norm="Linf", eps=eps, steps=ki, n_restarts=1, n_classes=10, seed=0))
        table.add(f"APGD-T ({ki} iterations, 9 targets)", m, a["accuracies"][-1], float(b.mean()), "sampling", a["correct"], b, n)
        q = args.square_queries
        a = atalp.evaluate(paths[m], "--attack", "square", "--iterations", q, *common)
        b = ref(torchattacks.Square(model, norm="Linf", eps=eps, n_queries=q, n_restarts=1, p_init=0.8, seed=0))
        table.add(f"Square ({q} queries)", m, a["accuracies"][-1], float(b.mean()), "sampling", a["correct"], b, n)

    # 3. A randomised model: EOT-PGD on RAT, final iterate, scored as the mean over random draws.
    model, _, _ = twins["rat"]
    a = atalp.evaluate(paths["rat"], "--attack", "pgd", "--iterations", k, "--step-size", step, "--epsilon", eps,
                       "--source", paths["rat"], "--inference-draws", args.draws)
    torch.manual_seed(1)
    adv = torchattacks.EOTPGD(model, eps=eps, alpha=step, steps=k, eot_iter=args.eot, random_start=True)(x, y)
    b = per_example(model, True, adv, y, args.draws, 2)
    table.add(f"EOT-PGD-{k} ({args.eot} draws/step), final iterate", "rat", a["accuracies"][-1], float(b.mean()), "sampling",
              a["correct"], b, n)

    # 4. Transfer: sets made on a source, scored on a target; atalp's and torchattacks' sets, each scored by both.
    for source, target, threat in [("none#gray", "none", "gray-box"), ("resnet32-source", "none", "black-box"),
                                   ("pat#gray", "pat", "gray-box")]:
        pair = f"{source} → {target}"
        atalp_set = os.path.join(tmp, f"atalp-{source}.h5")
        a = atalp.evaluate(paths[target], "--attack", "pgd", "--iterations", k, "--step-size", step, "--epsilon", eps,
                           "--source", paths[source], "--threat-model", threat, "--save-adversarial", atalp_set)
        with h5py.File(atalp_set, "r") as f:
            atalp_images = torch.from_numpy(np.array(f["images"]))
        tmodel, _, _ = twins[target]
        a_by_torch = per_example(tmodel, False, atalp_images, y, 1, 0)
        table.add(f"{threat} transfer, atalp's set: atalp vs PyTorch scoring", pair, a["accuracies"][-1], float(a_by_torch.mean()),
                  "exact", a["correct"], a_by_torch, n)
        smodel, _, _ = twins[source]
        torch.manual_seed(3)
        ref_images = torchattacks.PGD(smodel, eps=eps, alpha=step, steps=k, random_start=True)(x, y)
        ref_set = os.path.join(tmp, f"ref-{source}.h5")
        save_set(ref_set, ref_images, y)
        r_by_atalp = atalp.evaluate(paths[target], "--adversarial", ref_set)
        r_by_torch = per_example(tmodel, False, ref_images, y, 1, 0)
        table.add(f"{threat} transfer, torchattacks' set: atalp vs PyTorch scoring", pair, r_by_atalp["accuracies"][0],
                  float(r_by_torch.mean()), "exact", r_by_atalp["correct"], r_by_torch, n)
        table.add(f"{threat} transfer accuracy, atalp's set vs torchattacks' set", pair, float(a_by_torch.mean()), float(r_by_torch.mean()),
                  "sampling", a_by_torch, r_by_torch, n)
        first = atalp.evaluate(paths[target], "--attack", "pgd", "--iterations", k, "--step-size", step, "--epsilon", eps,
                               "--source", paths[source], "--threat-model", threat, "--transfer-rule", "first-success")
        table.add(f"{threat} transfer, atalp first-success set (the old rule) vs torchattacks' set", pair, first["accuracies"][-1],
                  float(r_by_torch.mean()), "contrast")

    minutes = (time.time() - started) / 60
    header = (f"Conformance of atalp with PyTorch {torch.__version__} + torchattacks {torchattacks.__version__} "
              f"({n} Fashion-MNIST test images, ε = {eps}, step {step}, PGD-{k}, APGD {args.apgd_iterations} iterations, "
              f"Square {args.square_queries} queries, EOT {args.eot} draws/step, {args.draws} inference draws; {minutes:.1f} min)")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table.markdown(header))
    checked = [r for r in table.rows if r[6] != "contrast"]
    bad = [r for r in checked if r[8] == "NO"]
    print(f"\n{len(checked) - len(bad)} of {len(checked)} checked rows inside their tolerance "
          f"({len(table.rows) - len(checked)} contrast rows shown for information); {minutes:.1f} min")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
