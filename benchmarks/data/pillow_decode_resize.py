#!/usr/bin/env python3
"""Pillow's side of the data benchmark: decode + resize + centre-crop the same JPEG files.

Usage: pillow_decode_resize.py LIST SIZE OUT_PREFIX
  LIST        a text file of JPEG paths, one a line
  SIZE        output side (the crop); the shorter side is resized to SIZE first
  OUT_PREFIX  writes OUT_PREFIX.plain.bin / .draft.bin: the first 8 outputs, H×W×3 bytes each

Prints one JSON line: images per second for
  plain: Image.open → convert("RGB") → resize(SIZE×SIZE, BILINEAR, box=centre crop)  (full decode)
  draft: the same after im.draft("RGB", resized size): Pillow's use of libjpeg DCT scaling,
         the counterpart of atalp's. Single thread, files read from the page cache.
"""
import json
import sys
import time

from PIL import Image


def geometry(w, h, size):
    # Same as atalp's Preprocessing.geometry: shorter side → size (rounded), then centre crop.
    scale = size / min(w, h)
    rw, rh = max(round(w * scale), size), max(round(h * scale), size)
    left, top = round((rw - size) / 2), round((rh - size) / 2)
    sx, sy = w / rw, h / rh
    return (rw, rh), (left * sx, top * sy, (left + size) * sx, (top + size) * sy)


def run(paths, size, draft):
    outputs = []
    for p in paths:
        with open(p, "rb") as f:
            im = Image.open(f)
            if draft:
                (rw, rh), _ = geometry(*im.size, size)
                im.draft("RGB", (rw, rh))
            im = im.convert("RGB")
            _, box = geometry(*im.size, size)
            out = im.resize((size, size), Image.BILINEAR, box=box)
            if len(outputs) < 8:
                outputs.append(out.tobytes())
    return outputs


def main():
    list_file, size, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    paths = [line.strip() for line in open(list_file) if line.strip()]
    result = {"pillow": Image.__version__, "images": len(paths)}
    for name, draft in (("plain", False), ("draft", True)):
        run(paths[:20], size, draft)  # warm-up
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            outputs = run(paths, size, draft)
            best = min(best, time.perf_counter() - start)
        result[name] = len(paths) / best
        with open(f"{prefix}.{name}.bin", "wb") as f:
            for o in outputs:
                f.write(o)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
