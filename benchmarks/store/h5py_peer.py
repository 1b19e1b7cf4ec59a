#!/usr/bin/env python3
"""h5py peer of `atalp store _bench`: the same workloads, done the way a careful h5py user would.

Workloads (see Sources/Store/Benchmarks/StoreBenchmark.swift):
  mnist     60000x28x28 uint8 images + 60000 int64 labels
  resnet18  ResNet-18 state dict (10 classes): 62 float32 tensors, 11,173,962 parameters

"hdf5" rows: write to a temp file beside the target, flush, fsync, rename (what HDF5File.write does);
read every dataset into memory. "store" rows add what ArtifactStore.put adds: SHA-256 of every
dataset's bytes (hashlib) and a fresh directory per artifact. Times are medians over --repeat runs.
Prints one JSON object: {"<name>": {"write": seconds, "read": seconds, "bytes": n}, ...}.
"""
import argparse, hashlib, json, os, shutil, statistics, sys, tempfile, time

import h5py
import numpy as np


def resnet18_shapes(classes=10):
    shapes = [("conv1.weight", (64, 3, 7, 7)), ("bn1.weight", (64,)), ("bn1.bias", (64,))]
    cin_layer = 64
    for layer, c in enumerate([64, 128, 256, 512]):
        for block in range(2):
            p = f"layer{layer + 1}.{block}"
            cin = cin_layer if block == 0 else c
            shapes += [(f"{p}.conv1.weight", (c, cin, 3, 3)), (f"{p}.bn1.weight", (c,)), (f"{p}.bn1.bias", (c,)),
                       (f"{p}.conv2.weight", (c, c, 3, 3)), (f"{p}.bn2.weight", (c,)), (f"{p}.bn2.bias", (c,))]
            if block == 0 and cin != c:
                shapes += [(f"{p}.downsample.0.weight", (c, cin, 1, 1)), (f"{p}.downsample.1.weight", (c,)),
                           (f"{p}.downsample.1.bias", (c,))]
        cin_layer = c
    return shapes + [("fc.weight", (classes, 512)), ("fc.bias", (classes,))]


def atomic_write(path, fill, compression=None):
    tmp = os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".tmp")
    with h5py.File(tmp, "w", track_times=False) as f:
        fill(f, compression)
        f.flush()
    fd = os.open(tmp, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
    os.replace(tmp, path)
    dfd = os.open(os.path.dirname(path), os.O_RDONLY)
    os.fsync(dfd)
    os.close(dfd)


def read_all(path):
    with h5py.File(path, "r") as f:
        names = []
        f.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
        for name in sorted(names):
            f[name][()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default=None)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    root = tempfile.mkdtemp(prefix="atalp-h5py-bench-", dir=args.dir)
    rng = np.random.default_rng(42)
    images = rng.integers(0, 256, size=(60000, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=(60000,), dtype=np.int64)
    tensors = [(n, rng.standard_normal(s, dtype=np.float32) * 0.1) for n, s in resnet18_shapes()]

    def mnist(f, compression):
        kw = dict(compression="gzip", compression_opts=1, shuffle=True) if compression else {}
        f.create_dataset("images", data=images, **kw)
        f.create_dataset("labels", data=labels, **kw)

    def resnet(f, compression):
        for n, t in tensors:
            f.create_dataset(n, data=t)

    def hashed(fill):
        def inner(f, compression):
            fill(f, compression)
            for obj in ([images, labels] if fill is mnist else [t for _, t in tensors]):
                hashlib.sha256(memoryview(np.ascontiguousarray(obj)).cast("B")).digest()
        return inner

    results = {}
    cases = [("mnist hdf5", mnist, False, False),
             ("resnet18 hdf5", resnet, False, False), ("mnist store", mnist, False, True),
             ("resnet18 store", resnet, False, True)]
    try:
        for name, fill, compression, store in cases:
            writes, reads, size = [], [], 0
            for i in range(args.repeat):
                d = os.path.join(root, f"{name.replace(' ', '-')}-{i}")
                os.makedirs(d)
                path = os.path.join(d, "a.h5")
                t = time.perf_counter()
                atomic_write(path, hashed(fill) if store else fill, compression)
                writes.append(time.perf_counter() - t)
                size = os.path.getsize(path)
                t = time.perf_counter()
                read_all(path)
                reads.append(time.perf_counter() - t)
            results[name] = {"write": statistics.median(writes), "read": statistics.median(reads), "bytes": size}
    finally:
        shutil.rmtree(root, ignore_errors=True)
    json.dump(results, sys.stdout)
    print()


if __name__ == "__main__":
    main()
