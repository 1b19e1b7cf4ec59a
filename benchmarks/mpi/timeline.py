#!/usr/bin/env python3
"""Where each rank's wall-clock time went in one atalp run, from its ATALP_TIMELINE spans.

    python3 benchmarks/mpi/timeline.py DIR LAUNCHED ENDED [--label TEXT] [--json OUT]
    python3 benchmarks/mpi/timeline.py compare ONE_RANK_DIR LAUNCHED ENDED N_RANK_DIR LAUNCHED ENDED

DIR holds rank-<r>.jsonl as atalp writes them under ATALP_TIMELINE=DIR (Sources/Cluster/RankTimeline.swift);
LAUNCHED and ENDED are the launcher's clock (seconds since 1970) just before mpirun (or atalp) started and
just after it returned. Per rank it prints the run's time split into: launch → process start (mpirun/exec),
start-up (dynamic loading, the OpenMP restart), MPI_Init, opening the store, the pipeline's bookkeeping for
reused stages, each computed stage (loading data and model, its batches: count, sum, median, range;
gathering — which includes waiting for the slowest rank —, combining, writing), the wait for the leader's
lookups and records, and exit (MPI_Finalize) → the launcher's return. What no span covers is printed as
"other". The columns of all ranks add up to the same wall time: the launcher's.

`compare` sets an N-rank run against a 1-rank run of the same work: per category, rank 0's seconds less
the 1-rank seconds / N — the losses add up to T_N − T1/N —, and each rank's median batch against the 1-rank
median (the slowdown of the compute itself).
"""
import argparse
import collections
import glob
import json
import os
import statistics


def load(directory):
    ranks = collections.defaultdict(list)
    for path in glob.glob(os.path.join(directory, "rank-*.jsonl")):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    s = json.loads(line)
                    ranks[s["rank"]].append(s)
    for spans in ranks.values():
        spans.sort(key=lambda s: (s["start"], -s["end"]))
    return dict(sorted(ranks.items()))


def category(name):
    """The column a top-level span counts towards."""
    if name == "process start":
        return "start-up"
    if name.startswith("stage "):
        return "stage"
    if name.startswith("look up ") or name.startswith("record run "):
        return "leader's lookups and records"
    if name.startswith("wait: leader"):
        return "waiting for the leader"
    if name.startswith("open store") or name.startswith("wait: store"):
        return "opening the store"
    return name


def summarise(spans, launched, ended):
    """(ordered columns {name: seconds}, per-stage breakdowns, batch durations)"""
    columns = collections.OrderedDict()
    stages = []
    top = []   # spans not inside another
    for s in spans:
        if s["span"] == "exit":
            continue
        if top and s["start"] >= top[-1]["start"] and s["end"] <= top[-1]["end"] + 1e-6:
            top[-1].setdefault("children", []).append(s)
        else:
            top.append(s)
    start = next((s["start"] for s in spans if s["span"] == "process start"), spans[0]["start"] if spans else launched)
    exit_mark = next((s["start"] for s in spans if s["span"] == "exit"), None)
    columns["launch → process start"] = max(0.0, start - launched)
    covered = 0.0
    for s in top:
        c = category(s["span"])
        d = s["end"] - s["start"]
        columns[c] = columns.get(c, 0.0) + d
        covered += d
        if c == "stage":
            stages.append(s)
    last_end = max((s["end"] for s in top), default=start)
    if exit_mark is not None:
        columns["end of work → exit (MPI_Finalize)"] = max(0.0, exit_mark - last_end)
        columns["exit → launcher returns"] = max(0.0, ended - exit_mark)
        covered += exit_mark - last_end
    else:
        columns["end of work → launcher returns"] = max(0.0, ended - last_end)
    covered += columns.get("exit → launcher returns", columns.get("end of work → launcher returns", 0.0))
    covered += columns["launch → process start"]
    columns["other (between spans)"] = max(0.0, (ended - launched) - covered)
    return columns, stages


def stage_breakdown(stage):
    children = stage.get("children", [])
    parts = collections.OrderedDict()
    batches = collections.defaultdict(list)
    for c in children:
        if c.get("index") is not None:
            batches[c["span"]].append(c["end"] - c["start"])
        else:
            parts[c["span"]] = parts.get(c["span"], 0.0) + c["end"] - c["start"]
    total = stage["end"] - stage["start"]
    inside = sum(parts.values()) + sum(sum(v) for v in batches.values())
    return total, parts, batches, total - inside


def flat(spans, launched, ended):
    """{category: seconds} adding up to the wall time: the top-level columns with each stage replaced
    by its parts (batches summed per kind)."""
    columns, stages = summarise(spans, launched, ended)
    out = collections.OrderedDict((k, v) for k, v in columns.items() if k != "stage")
    for s in stages:
        total, parts, batches, rest = stage_breakdown(s)
        for k, v in parts.items():
            out[k] = out.get(k, 0.0) + v
        for k, ds in batches.items():
            out[k + "es"] = out.get(k + "es", 0.0) + sum(ds)
        out["stage: other"] = out.get("stage: other", 0.0) + rest
    return out


def compare(one, two):
    """Where the N-rank run loses against the ideal T1/N, on the leader's critical path: per category,
    the leader's seconds minus the 1-rank seconds / N. The losses add up to T_N − T1/N."""
    (d1, l1, e1), (d2, l2, e2) = one, two
    r1, r2 = load(d1), load(d2)
    n = len(r2)
    a, b = flat(r1[0], l1, e1), flat(r2[0], l2, e2)
    t1, t2 = e1 - l1, e2 - l2
    print(f"where {n} ranks lose against the ideal T1/{n} = {t1 / n:.2f} s (T{n} = {t2:.2f} s, efficiency {t1 / (n * t2):.3f}), "
          f"on rank 0's critical path:")
    keys = list(dict.fromkeys(list(b) + list(a)))
    rows = [(k, a.get(k, 0.0), b.get(k, 0.0)) for k in keys]
    print(f"  {'':44} {'1 rank':>8} {f'rank 0 of {n}':>10} {'loss':>8}")
    for k, x, y in sorted(rows, key=lambda r: -(r[2] - r[1] / n)):
        if abs(y - x / n) >= 0.005 or max(x, y) >= 0.005:
            print(f"  {k:44} {x:8.2f} {y:10.2f} {y - x / n:+8.2f}")
    print(f"  {'total':44} {t1:8.2f} {t2:10.2f} {t2 - t1 / n:+8.2f}")
    for rank, spans in r2.items():
        batches = {k: v for k, v in stage_batches(spans).items()}
        ones = stage_batches(r1[0])
        for kind, ds in batches.items():
            if kind in ones and ones[kind]:
                m1, m2 = statistics.median(ones[kind]), statistics.median(ds)
                print(f"  rank {rank}: {len(ds)} × {kind}, median {m2:.3f} s against {m1:.3f} s on 1 rank ({100 * (m2 / m1 - 1):+.1f} %)")


def stage_batches(spans):
    out = collections.defaultdict(list)
    for s in spans:
        if s.get("index") is not None:
            out[s["span"]].append(s["end"] - s["start"])
    return out


def main():
    if len(__import__("sys").argv) > 1 and __import__("sys").argv[1] == "compare":
        ap = argparse.ArgumentParser(description="compare ONE_DIR LAUNCHED ENDED MANY_DIR LAUNCHED ENDED")
        ap.add_argument("compare")
        ap.add_argument("one"); ap.add_argument("l1", type=float); ap.add_argument("e1", type=float)
        ap.add_argument("two"); ap.add_argument("l2", type=float); ap.add_argument("e2", type=float)
        a = ap.parse_args()
        compare((a.one, a.l1, a.e1), (a.two, a.l2, a.e2))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("directory")
    ap.add_argument("launched", type=float)
    ap.add_argument("ended", type=float)
    ap.add_argument("--label", default="")
    ap.add_argument("--json", help="also write the per-rank numbers here")
    a = ap.parse_args()
    ranks = load(a.directory)
    wall = a.ended - a.launched
    print(f"{a.label}wall {wall:.2f} s, {len(ranks)} rank{'s' if len(ranks) != 1 else ''}")
    out = {}
    for rank, spans in ranks.items():
        columns, stages = summarise(spans, a.launched, a.ended)
        line = " | ".join(f"{k} {v:.2f}" for k, v in columns.items() if k != "stage" and v >= 0.005)
        print(f"  rank {rank}: {line}")
        out[rank] = {"columns": columns, "stages": []}
        for s in stages:
            total, parts, batches, rest = stage_breakdown(s)
            items = [f"{k} {v:.2f}" for k, v in parts.items()]
            record = {"name": s["span"][6:], "seconds": total, "parts": parts, "batches": {}}
            for name, ds in batches.items():
                items.append(f"{len(ds)} × {name} {sum(ds):.2f} (median {statistics.median(ds):.2f}, {min(ds):.2f}–{max(ds):.2f})")
                record["batches"][name] = ds
            if rest >= 0.005:
                items.append(f"other {rest:.2f}")
            print(f"    {s['span']}: {total:.2f} s = " + ", ".join(items))
            out[rank]["stages"].append(record)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"wall": wall, "ranks": out}, f)


if __name__ == "__main__":
    main()
