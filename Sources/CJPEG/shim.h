// libjpeg(-turbo) behind two functions that never longjmp into Swift.
//
// libjpeg reports a fatal error by calling error_exit, which by default prints and calls exit();
// Swift frames cannot be unwound by longjmp either. So the whole decode (or encode) runs inside
// one C function that owns the setjmp: on error, it destroys the codec, frees its buffer and
// returns NULL with libjpeg's message. Warnings ("Premature end of JPEG file", "Corrupt JPEG data")
// are counted and the first one kept, so the caller can treat a damaged file as an error.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <jpeglib.h>

#define ATALP_JPEG_MESSAGE_LENGTH 200

typedef struct atalp_jpeg_result {
    int width, height;                 // the image in the file
    int out_width, out_height;         // the decoded (possibly DCT-scaled) image
    int out_components;                // 1 (gray) or 3 (RGB), interleaved
    int jpeg_color_space;              // a J_COLOR_SPACE: JCS_GRAYSCALE, JCS_YCbCr, JCS_RGB, JCS_CMYK, JCS_YCCK
    int progressive;                   // 1 if progressive
    int adobe_inverted;                // 1 if a CMYK/YCCK file has Adobe's APP14 marker (samples are read inverted either way)
    int scale_denom;                   // the DCT scaling used: 1, 2, 4 or 8
    int warnings;                      // libjpeg warnings while decoding
    char message[ATALP_JPEG_MESSAGE_LENGTH];  // the error, or the first warning
} atalp_jpeg_result;

typedef struct atalp_jpeg_error_mgr {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    int warnings;
    char message[ATALP_JPEG_MESSAGE_LENGTH];
} atalp_jpeg_error_mgr;

static void atalp_jpeg_error_exit(j_common_ptr cinfo) {
    atalp_jpeg_error_mgr *err = (atalp_jpeg_error_mgr *)cinfo->err;
    char buffer[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, buffer);
    snprintf(err->message, sizeof err->message, "%s", buffer);
    longjmp(err->jump, 1);
}

static void atalp_jpeg_emit_message(j_common_ptr cinfo, int level) {
    atalp_jpeg_error_mgr *err = (atalp_jpeg_error_mgr *)cinfo->err;
    if (level < 0) {  // a warning; level >= 0 are trace messages
        if (err->warnings == 0) {
            char buffer[JMSG_LENGTH_MAX];
            (*cinfo->err->format_message)(cinfo, buffer);
            snprintf(err->message, sizeof err->message, "%s", buffer);
        }
        err->warnings += 1;
        cinfo->err->num_warnings++;
    }
}

static void atalp_jpeg_install_errors(atalp_jpeg_error_mgr *err) {
    jpeg_std_error(&err->pub);
    err->pub.error_exit = atalp_jpeg_error_exit;
    err->pub.emit_message = atalp_jpeg_emit_message;
    err->warnings = 0;
    err->message[0] = 0;
}

// The largest denominator d in {8, 4, 2} with ceil(width/d) >= min_width and
// ceil(height/d) >= min_height, else 1: DCT scaling only when shrinking by 2x or more.
static inline int atalp_jpeg_scale_denom(int width, int height, int min_width, int min_height) {
    if (min_width <= 0 || min_height <= 0) return 1;
    for (int d = 8; d >= 2; d /= 2) {
        if ((width + d - 1) / d >= min_width && (height + d - 1) / d >= min_height) return d;
    }
    return 1;
}

// Decodes a JPEG held in memory to interleaved 8-bit pixels, as Pillow's Image.open(f).convert(...)
// does. color: 0 keeps gray as gray (1 component) and makes everything else RGB (3); 1 makes
// everything gray (colour files through RGB, then ITU-R 601 luma as Pillow's "L"); 3 makes
// everything RGB. CMYK and YCCK are converted here, since libjpeg
// does not. min_width/min_height (0 for none) allow DCT scaling by 1/2, 1/4 or 1/8 as long as the
// output stays at least that large. max_pixels bounds width*height before any allocation.
// Returns a malloc'd buffer of out_height*out_width*out_components bytes (free() it), or NULL with
// result->message set. Never calls exit or longjmps out.
static inline unsigned char *atalp_jpeg_decode(const unsigned char *data, unsigned long size,
                                               int min_width, int min_height, int color,
                                               long max_pixels, atalp_jpeg_result *result) {
    struct jpeg_decompress_struct cinfo;
    atalp_jpeg_error_mgr err;
    unsigned char *volatile out = NULL;
    memset(result, 0, sizeof *result);
    cinfo.err = NULL;
    atalp_jpeg_install_errors(&err);
    cinfo.err = &err.pub;
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(out);
        snprintf(result->message, sizeof result->message, "%s", err.message);
        return NULL;
    }
    jpeg_create_decompress(&cinfo);
    if (size == 0) {
        snprintf(err.message, sizeof err.message, "empty file");
        longjmp(err.jump, 1);
    }
    jpeg_mem_src(&cinfo, data, size);
    jpeg_read_header(&cinfo, TRUE);
    result->width = (int)cinfo.image_width;
    result->height = (int)cinfo.image_height;
    result->jpeg_color_space = cinfo.jpeg_color_space;
    result->progressive = jpeg_has_multiple_scans(&cinfo) ? 1 : 0;
    if (cinfo.image_width == 0 || cinfo.image_height == 0
        || (long)cinfo.image_width * (long)cinfo.image_height > max_pixels) {
        snprintf(err.message, sizeof err.message, "image size %ux%u is out of range",
                 cinfo.image_width, cinfo.image_height);
        longjmp(err.jump, 1);
    }
    int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    result->adobe_inverted = cmyk && cinfo.saw_Adobe_marker;
    if (cmyk) {
        cinfo.out_color_space = JCS_CMYK;
    } else if (cinfo.jpeg_color_space == JCS_GRAYSCALE && color != 3) {
        cinfo.out_color_space = JCS_GRAYSCALE;
    } else {
        // Colour to gray goes through RGB, as Pillow's convert("L") does: libjpeg's own gray
        // output (the Y channel) differs from luma computed on the upsampled RGB.
        cinfo.out_color_space = JCS_RGB;
    }
    int denom = atalp_jpeg_scale_denom((int)cinfo.image_width, (int)cinfo.image_height, min_width, min_height);
    cinfo.scale_num = 1;
    cinfo.scale_denom = (unsigned)denom;
    cinfo.dct_method = JDCT_ISLOW;
    result->scale_denom = denom;
    jpeg_start_decompress(&cinfo);
    int w = (int)cinfo.output_width, h = (int)cinfo.output_height, c = cinfo.output_components;
    out = (unsigned char *)malloc((size_t)w * (size_t)h * (size_t)c);
    if (!out) {
        snprintf(err.message, sizeof err.message, "out of memory for a %dx%d image", w, h);
        longjmp(err.jump, 1);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW rows[4];
        int n = 0;
        for (; n < 4 && cinfo.output_scanline + n < cinfo.output_height; n++)
            rows[n] = out + (size_t)(cinfo.output_scanline + n) * (size_t)w * (size_t)c;
        jpeg_read_scanlines(&cinfo, rows, (JDIMENSION)n);
    }
    jpeg_finish_decompress(&cinfo);
    size_t n = (size_t)w * (size_t)h;
    if (cmyk) {
        // CMYK -> RGB exactly as Pillow: the samples are taken as Adobe-inverted (stored = 255 - ink)
        // whether or not the file has Adobe's APP14 marker — Pillow, browsers and nearly every
        // writer follow Adobe's convention, and reading a marker-less file the other way made every
        // pixel black. With inks C, K: R = (255 - K) - round(C (255 - K) / 255). In place: the
        // write index never passes the read index.
        for (size_t i = 0; i < n; i++) {
            unsigned nk = out[4 * i + 3];
            for (int ch = 0; ch < 3; ch++) {
                unsigned ink = 255u - out[4 * i + ch];
                unsigned t = ink * nk + 128u;
                out[3 * i + ch] = (unsigned char)(nk - ((t + (t >> 8)) >> 8));
            }
        }
        c = 3;
    }
    if (color == 1 && c == 3) {
        // ITU-R 601 luma in Pillow's fixed point: L = (19595 R + 38470 G + 7471 B + 2^15) >> 16.
        for (size_t i = 0; i < n; i++) {
            unsigned y = (out[3 * i] * 19595u + out[3 * i + 1] * 38470u + out[3 * i + 2] * 7471u + 32768u) >> 16;
            out[i] = (unsigned char)y;
        }
        c = 1;
    }
    result->out_width = w;
    result->out_height = h;
    result->out_components = c;
    result->warnings = err.warnings;
    if (err.warnings) snprintf(result->message, sizeof result->message, "%s", err.message);
    jpeg_destroy_decompress(&cinfo);
    return out;
}

// Encodes interleaved 8-bit pixels (components: 1 gray, 3 RGB, 4 CMYK stored Adobe-inverted as
// Photoshop writes it) at `quality` (1...100). progressive: a progressive JPEG; subsample: 4:2:0
// chroma (else 4:4:4). Returns a malloc'd buffer (free() it) and its length, or NULL with message.
static inline unsigned char *atalp_jpeg_encode(const unsigned char *pixels, int width, int height,
                                               int components, int quality, int progressive,
                                               int subsample, unsigned long *out_size,
                                               char message[ATALP_JPEG_MESSAGE_LENGTH]) {
    struct jpeg_compress_struct cinfo;
    atalp_jpeg_error_mgr err;
    unsigned char *volatile buffer = NULL;
    unsigned long size = 0;
    message[0] = 0;
    *out_size = 0;
    atalp_jpeg_install_errors(&err);
    cinfo.err = &err.pub;
    if (setjmp(err.jump)) {
        jpeg_destroy_compress(&cinfo);
        free(buffer);
        snprintf(message, ATALP_JPEG_MESSAGE_LENGTH, "%s", err.message);
        return NULL;
    }
    jpeg_create_compress(&cinfo);
    unsigned char *dest = NULL;
    jpeg_mem_dest(&cinfo, &dest, &size);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = components;
    cinfo.in_color_space = components == 1 ? JCS_GRAYSCALE : components == 4 ? JCS_CMYK : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    if (components == 3 && !subsample) {
        cinfo.comp_info[0].h_samp_factor = 1;
        cinfo.comp_info[0].v_samp_factor = 1;
    }
    if (progressive) jpeg_simple_progression(&cinfo);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)cinfo.next_scanline * (size_t)width * (size_t)components);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    buffer = dest;
    jpeg_destroy_compress(&cinfo);
    *out_size = size;
    return buffer;
}
