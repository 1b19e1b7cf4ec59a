#!/usr/bin/env python3
"""Makes the decoder-comparison corpus of DataTests/DecoderCorpusTests.swift (issue 16, fault 4).

Writes small image files in every colour model and container variant atalp's readers accept, and
for each the pixels Pillow decodes from it: `<file>.rgb` = Image.open(f).convert("RGB").tobytes()
and `<file>.l` = Image.open(f).convert("L").tobytes(); `manifest.json` lists them with Pillow's
mode and version. Files Pillow refuses are listed with "pillow_error" (atalp must skip them).

The corpus and Pillow's pixels are committed, so the tests need no Python. Rerun after changing
this script (needs Pillow, a C compiler and libjpeg-dev for the YCCK file):

    pip install pillow && python3 Tests/DataTests/DecoderCorpus/make_corpus.py

JPEGs are written by Pillow (libjpeg-turbo), except YCCK, which Pillow cannot write: a few lines
of C against the system libjpeg write that one. PNGs are written by the small encoder below, which
covers what Pillow cannot write (Adam7 interlacing, 1/2/4-bit gray, tRNS colour keys, gAMA).
"""
import io, json, os, struct, subprocess, sys, tempfile, zlib

import PIL
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
W, H = 35, 21   # odd sizes: partial MCUs (JPEG) and partial Adam7 passes (PNG)


def photo():
    """Smooth gradients, a few hard edges and saturated patches: every channel varies."""
    px = []
    for y in range(H):
        for x in range(W):
            r = (x * 255) // (W - 1)
            g = (y * 255) // (H - 1)
            b = ((x + y) * 7) % 256
            if 10 <= x < 16 and 5 <= y < 12: r, g, b = 230, 20, 30
            if 22 <= x < 30 and 12 <= y < 18: r, g, b = 20, 40, 220
            px.append((r, g, b))
    im = Image.new("RGB", (W, H))
    im.putdata(px)
    return im


def strip_app14(data):
    """Removes every APP14 ("Adobe") segment from a JPEG."""
    out, i = bytearray(data[:2]), 2
    while i < len(data):
        assert data[i] == 0xFF, "marker expected"
        marker = data[i + 1]
        if marker == 0xDA:   # start of scan: the rest is entropy-coded data
            out += data[i:]
            break
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        if not (marker == 0xEE and data[i + 4:i + 9] == b"Adobe"):
            out += data[i:i + 2 + length]
        i += 2 + length
    assert b"Adobe" not in bytes(out[:200])
    return bytes(out)


YCCK_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <jpeglib.h>
int main(int argc, char **argv) {   /* argv: width height in.cmyk out.jpg ; input inverted (Adobe) CMYK */
    int w = atoi(argv[1]), h = atoi(argv[2]);
    unsigned char *px = malloc((size_t)w * h * 4);
    FILE *in = fopen(argv[3], "rb"); if (fread(px, 4, (size_t)w * h, in) != (size_t)w * h) return 1; fclose(in);
    struct jpeg_compress_struct c; struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e); jpeg_create_compress(&c);
    FILE *out = fopen(argv[4], "wb"); jpeg_stdio_dest(&c, out);
    c.image_width = w; c.image_height = h; c.input_components = 4; c.in_color_space = JCS_CMYK;
    jpeg_set_defaults(&c); jpeg_set_colorspace(&c, JCS_YCCK); jpeg_set_quality(&c, 92, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) { JSAMPROW row = px + (size_t)c.next_scanline * w * 4; jpeg_write_scanlines(&c, &row, 1); }
    jpeg_finish_compress(&c); fclose(out); return 0;
}
"""


def ycck_jpeg(cmyk_image):
    with tempfile.TemporaryDirectory() as tmp:
        src, exe = os.path.join(tmp, "ycck.c"), os.path.join(tmp, "ycck")
        open(src, "w").write(YCCK_C)
        subprocess.check_call(["cc", "-O1", "-o", exe, src, "-ljpeg"])
        raw = os.path.join(tmp, "in.cmyk")
        # Adobe convention: stored = 255 - ink.
        open(raw, "wb").write(bytes(255 - v for v in cmyk_image.tobytes()))
        out = os.path.join(tmp, "out.jpg")
        subprocess.check_call([exe, str(W), str(H), raw, out])
        return open(out, "rb").read()


def jpeg(im, **options):
    buffer = io.BytesIO()
    im.save(buffer, "JPEG", **options)
    return buffer.getvalue()


# --- PNG ---------------------------------------------------------------------------------------

def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def png(samples, color_type, depth, palette=None, trns=None, interlace=False, gamma=None):
    """samples: rows of per-pixel tuples (sample values at `depth`, or palette indices)."""
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color_type]

    def row_bytes(row):
        if depth < 8:
            bits, out = 0, bytearray()
            n = 0
            for (v,) in row:
                bits = (bits << depth) | v
                n += depth
                if n == 8:
                    out.append(bits); bits, n = 0, 0
            if n:
                out.append(bits << (8 - n))
            return bytes(out)
        fmt = ">" + ("H" if depth == 16 else "B") * (channels * len(row))
        return struct.pack(fmt, *[s for px in row for s in px])

    raw = bytearray()
    if interlace:
        for x0, y0, dx, dy in ADAM7:
            for y in range(y0, H, dy):
                row = [samples[y][x] for x in range(x0, W, dx)]
                if row:
                    raw += b"\0" + row_bytes(row)
    else:
        for y in range(H):
            raw += b"\0" + row_bytes(samples[y])
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, depth, color_type, 0, 0, 1 if interlace else 0))
    if gamma is not None:
        out += chunk(b"gAMA", struct.pack(">I", int(gamma * 100000)))
    if palette is not None:
        out += chunk(b"PLTE", bytes(v for rgb in palette for v in rgb))
    if trns is not None:
        out += chunk(b"tRNS", trns)
    out += chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + chunk(b"IEND", b"")
    return out


def png_files(im):
    rgb = [[im.getpixel((x, y)) for x in range(W)] for y in range(H)]
    gray = [[((r * 299 + g * 587 + b * 114) // 1000,) for (r, g, b) in row] for row in rgb]
    wide = lambda v: v * 256 + (v * 37) % 256      # 16-bit samples: high byte v, low byte varying
    alpha = [[((x * 255) // (W - 1) + y * 5) % 256 for x in range(W)] for y in range(H)]
    files = {
        "png-gray8.png": png(gray, 0, 8),
        "png-gray1.png": png([[(v >> 7,) for (v,) in row] for row in gray], 0, 1),
        "png-gray2.png": png([[(v >> 6,) for (v,) in row] for row in gray], 0, 2),
        "png-gray4.png": png([[(v >> 4,) for (v,) in row] for row in gray], 0, 4),
        "png-gray16.png": png([[(wide(v),) for (v,) in row] for row in gray], 0, 16),
        "png-gray8-trns.png": png(gray, 0, 8, trns=struct.pack(">H", gray[0][0][0])),
        "png-rgb8.png": png(rgb, 2, 8),
        "png-rgb16.png": png([[tuple(wide(v) for v in px) for px in row] for row in rgb], 2, 16),
        "png-rgb8-trns.png": png(rgb, 2, 8, trns=struct.pack(">HHH", *rgb[0][0])),
        "png-rgb8-gamma.png": png(rgb, 2, 8, gamma=1.0),
        "png-graya8.png": png([[(g[0], a) for g, a in zip(grow, arow)] for grow, arow in zip(gray, alpha)], 4, 8),
        "png-graya16.png": png([[(wide(g[0]), wide(a)) for g, a in zip(grow, arow)] for grow, arow in zip(gray, alpha)], 4, 16),
        "png-rgba8.png": png([[px + (a,) for px, a in zip(prow, arow)] for prow, arow in zip(rgb, alpha)], 6, 8),
        "png-rgba16.png": png([[tuple(wide(v) for v in px + (a,)) for px, a in zip(prow, arow)] for prow, arow in zip(rgb, alpha)], 6, 16),
        "png-rgb8-interlaced.png": png(rgb, 2, 8, interlace=True),
        "png-gray16-interlaced.png": png([[(wide(v),) for (v,) in row] for row in gray], 0, 16, interlace=True),
    }
    quantized = im.quantize(colors=200)
    pal = quantized.getpalette()[:600]
    palette = [tuple(pal[i:i + 3]) for i in range(0, len(pal), 3)]
    indices = [[(quantized.getpixel((x, y)),) for x in range(W)] for y in range(H)]
    files["png-palette8.png"] = png(indices, 3, 8, palette=palette)
    files["png-palette8-trns.png"] = png(indices, 3, 8, palette=palette, trns=bytes((i * 37) % 256 for i in range(len(palette))))
    files["png-palette8-interlaced.png"] = png(indices, 3, 8, palette=palette, interlace=True)
    q16 = im.quantize(colors=16)
    p16 = q16.getpalette()[:48]
    files["png-palette4.png"] = png([[(q16.getpixel((x, y)),) for x in range(W)] for y in range(H)], 3, 4,
                                    palette=[tuple(p16[i:i + 3]) for i in range(0, 48, 3)])
    good = files["png-rgb8.png"]
    files["png-truncated.png"] = good[:len(good) // 2]
    return files


def main():
    im = photo()
    cmyk = im.convert("CMYK")
    files = {
        "jpeg-gray.jpg": jpeg(im.convert("L"), quality=92),
        "jpeg-gray-progressive.jpg": jpeg(im.convert("L"), quality=92, progressive=True),
        "jpeg-ycbcr-420.jpg": jpeg(im, quality=90),
        "jpeg-ycbcr-422.jpg": jpeg(im, quality=90, subsampling=1),
        "jpeg-ycbcr-444.jpg": jpeg(im, quality=90, subsampling=0),
        "jpeg-rgb.jpg": jpeg(im, quality=90, keep_rgb=True),
        "jpeg-progressive.jpg": jpeg(im, quality=90, progressive=True),
        "jpeg-optimized.jpg": jpeg(im, quality=75, optimize=True),
        "jpeg-restart.jpg": jpeg(im, quality=90, restart_marker_blocks=1),
        "jpeg-progressive-restart.jpg": jpeg(im, quality=90, progressive=True, restart_marker_rows=1),
        "jpeg-cmyk-adobe.jpg": jpeg(cmyk, quality=92),
        "jpeg-ycck-adobe.jpg": ycck_jpeg(cmyk),
    }
    files["jpeg-cmyk-no-app14.jpg"] = strip_app14(files["jpeg-cmyk-adobe.jpg"])
    exif = Image.Exif()
    exif[0x0112] = 6   # orientation: rotate 90° clockwise to display
    files["jpeg-exif-rotated.jpg"] = jpeg(im, quality=90, exif=exif.tobytes())
    good = files["jpeg-ycbcr-420.jpg"]
    files["jpeg-truncated.jpg"] = good[:len(good) * 2 // 3]
    files.update(png_files(im))

    manifest = {"pillow": PIL.__version__, "width": W, "height": H, "files": []}
    for name in sorted(files):
        open(os.path.join(HERE, name), "wb").write(files[name])
        entry = {"file": name}
        try:
            with Image.open(os.path.join(HERE, name)) as f:
                entry["pillow_mode"] = f.mode
                rgb, l = f.convert("RGB"), f.convert("L")
                assert rgb.size == (W, H)
                open(os.path.join(HERE, name + ".rgb"), "wb").write(rgb.tobytes())
                open(os.path.join(HERE, name + ".l"), "wb").write(l.tobytes())
        except Exception as error:   # Pillow refuses it: atalp must skip it
            entry["pillow_error"] = f"{type(error).__name__}: {error}"
        manifest["files"].append(entry)
    with open(os.path.join(HERE, "manifest.json"), "w") as out:
        json.dump(manifest, out, indent=1)
        out.write("\n")
    print(f"{len(files)} files, Pillow {PIL.__version__}")


if __name__ == "__main__":
    sys.exit(main())
