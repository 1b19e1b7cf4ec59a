#!/usr/bin/env python3
"""Recompute an atalp artifact's id with h5py alone: the SHA-256 of its logical content, as
specified in docs/store.md ("Artifact ids"). Usage: artifact_id.py FILE [GROUP]
(GROUP: an artifact inside an export file, e.g. artifacts/<id>). Prints the id."""
import hashlib, struct, sys

import h5py
import numpy as np


def u64(v):
    return struct.pack("<Q", v)


def text(x):
    b = x.encode("utf-8") if isinstance(x, str) else bytes(x)
    return u64(len(b)) + b


def attribute(v):
    if isinstance(v, h5py.Empty):
        kind = v.dtype.kind
        return (b"I" if kind in "iu" else b"D" if kind == "f" else b"S") + u64(0)
    if isinstance(v, (str, bytes)):
        return b"s" + text(v)
    if isinstance(v, np.ndarray):
        if v.dtype.kind in "iu":
            return b"I" + u64(v.size) + b"".join(struct.pack("<q", int(x)) for x in v.ravel())
        if v.dtype.kind == "f":
            return b"D" + u64(v.size) + b"".join(struct.pack("<d", float(x)) for x in v.ravel())
        return b"S" + u64(v.size) + b"".join(text(x) for x in v.ravel())
    if isinstance(v, (int, np.integer)):
        return b"i" + struct.pack("<q", int(v))
    return b"d" + struct.pack("<d", float(v))


def attributes(obj):
    names = sorted(obj.attrs.keys(), key=lambda n: n.encode("utf-8"))
    return u64(len(names)) + b"".join(text(n) + attribute(obj.attrs[n]) for n in names)


def artifact_id(path, group="/"):
    with h5py.File(path, "r") as f:
        root = f[group]
        objects = {"": root}
        root.visititems(lambda name, obj: objects.__setitem__(name, obj))
        h = hashlib.sha256(b"atalp-artifact\n1\n")
        for name in sorted(objects, key=lambda n: n.encode("utf-8")):
            obj = objects[name]
            if isinstance(obj, h5py.Dataset):
                data = np.ascontiguousarray(obj[()], dtype=obj.dtype.newbyteorder("<"))
                entry = b"D" + text(name) + text(obj.dtype.name) + u64(len(obj.shape))
                entry += b"".join(u64(d) for d in obj.shape) + hashlib.sha256(data.tobytes()).digest()
            else:
                entry = b"G" + text(name)
            h.update(entry + attributes(obj))
        return h.hexdigest()


if __name__ == "__main__":
    print(artifact_id(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "/"))
