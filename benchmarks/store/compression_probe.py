#!/usr/bin/env python3
"""Does compression pay for atalp's artifacts? Writes real Fashion-MNIST (from the Debian package
dataset-fashion-mnist) and a ResNet-18-sized float32 checkpoint with h5py, contiguous and with
shuffle+deflate at levels 1 and 4 (chunks of ~1 MiB, as HDF5Compression.deflate makes them), and
prints size, write time and read time for each. The result decides the store's default layout
(see docs/store.md, "Layout and compression")."""
import gzip, os, struct, sys, tempfile, time

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from h5py_peer import resnet18_shapes  # noqa: E402

root = "/usr/share/datasets/fashion-mnist"
with gzip.open(f"{root}/train-images-idx3-ubyte.gz") as f:
    _, n, h, w = struct.unpack(">IIII", f.read(16))
    images = np.frombuffer(f.read(), dtype=np.uint8).reshape(n, h, w)
rng = np.random.default_rng(0)
weights = [(name, (rng.standard_normal(s) * 0.05).astype(np.float32)) for name, s in resnet18_shapes()]

def chunks(shape, itemsize):
    target = 1 << 20
    rest = int(np.prod(shape[1:])) * itemsize
    return (max(1, min(shape[0], target // max(rest, 1))),) + tuple(shape[1:])

d = tempfile.mkdtemp()
print(f"{'data':<22}{'layout':<14}{'size MB':>9}{'write s':>9}{'read s':>8}")
for label, arrays in [("fashion-mnist uint8", [("images", images)]), ("resnet18 float32", weights)]:
    for layout in ["contiguous", "deflate-1", "deflate-4"]:
        path = f"{d}/{label.split()[0]}-{layout}.h5"
        t = time.perf_counter()
        with h5py.File(path, "w", track_times=False) as f:
            for name, a in arrays:
                kw = {} if layout == "contiguous" or a.ndim == 0 else dict(
                    chunks=chunks(a.shape, a.itemsize), shuffle=True, compression="gzip", compression_opts=int(layout[-1]))
                f.create_dataset(name, data=a, **kw)
        write = time.perf_counter() - t
        t = time.perf_counter()
        with h5py.File(path, "r") as f:
            for name, _ in arrays:
                f[name][()]
        read = time.perf_counter() - t
        print(f"{label:<22}{layout:<14}{os.path.getsize(path) / 1e6:>9.1f}{write:>9.2f}{read:>8.2f}")
        os.remove(path)
os.rmdir(d)
