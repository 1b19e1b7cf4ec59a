#!/usr/bin/env python3
"""Where each rank's wall-clock time went in one atalp run, from its ATALP_TIMELINE spans.

    python3 benchmarks/mpi/timeline.py DIR LAUNCHED ENDED [--label TEXT] [--json OUT]

DIR holds rank-<r>.jsonl as atalp writes them under ATALP_TIMELINE=DIR (Sources/Cluster/RankTimeline.swift);
LAUNCHED and ENDED are the launcher's clock (seconds since 1970) just before mpirun (or atalp) started and
just after it returned. Per rank it prints the run's time split into: launch → process start (mpirun/exec),
start-up (dynamic loading, the OpenMP restart), MPI_Init, opening the store, the pipeline's bookkeeping for
reused stages, each computed stage (loading data and model, its batches: count, sum, median, range;
gathering — which includes waiting for the slowest rank —, combining, writing), the wait for the leader's
lookups and records, and exit (MPI_Finalize) → the launcher's return. What no span covers is printed as
"other". The columns of all ranks add up to the same wall time: the launcher's.
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


def main():
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
