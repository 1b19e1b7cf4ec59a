// libpng behind one decoding function that never longjmps into Swift, plus the simplified API
// (png_image_*, which reports errors by return value) for encoding.
//
// Decoding uses libpng's full API so that every file becomes the pixels Pillow's
// Image.open(f).convert("RGB") gives (see docs/data.md, "Readers"): palette entries looked up,
// 1/2/4-bit gray scaled by bit replication, 16-bit samples cut to their high byte, alpha and tRNS
// dropped (not composited), no gamma or colour-profile change, Adam7 interlacing undone. libpng
// reports a fatal error by longjmp; the whole decode runs inside atalp_png_decode, which owns the
// setjmp, frees what it allocated and returns NULL with libpng's message.
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ATALP_PNG_MESSAGE_LENGTH 200

static inline png_uint_32 atalp_png_version(void) { return PNG_IMAGE_VERSION; }
static inline png_uint_32 atalp_png_flag_color(void) { return PNG_FORMAT_FLAG_COLOR; }
static inline png_uint_32 atalp_png_flag_linear(void) { return PNG_FORMAT_FLAG_LINEAR; }
static inline png_uint_32 atalp_png_flag_alpha(void) { return PNG_FORMAT_FLAG_ALPHA; }

typedef struct atalp_png_result {
    int width, height;
    int channels;          // of the decoded pixels: 1 (gray) or 3 (RGB), interleaved
    int color_type;        // the file's PNG colour type (0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA)
    int bit_depth;         // the file's bit depth
    int interlaced;        // 1 for Adam7
    char message[ATALP_PNG_MESSAGE_LENGTH];  // the error
} atalp_png_result;

typedef struct atalp_png_source {
    const unsigned char *data;
    size_t size, offset;
    char *message;
} atalp_png_source;

static void atalp_png_error(png_structp png, png_const_charp text) {
    atalp_png_source *source = (atalp_png_source *)png_get_error_ptr(png);
    snprintf(source->message, ATALP_PNG_MESSAGE_LENGTH, "%s", text);
    png_longjmp(png, 1);
}

static void atalp_png_warning(png_structp png, png_const_charp text) {
    (void)png; (void)text;   // ancillary-chunk trouble (a bad iCCP, say): Pillow ignores it too
}

static void atalp_png_read(png_structp png, png_bytep out, png_size_t length) {
    atalp_png_source *source = (atalp_png_source *)png_get_io_ptr(png);
    if (length > source->size - source->offset) png_error(png, "file is truncated");
    memcpy(out, source->data + source->offset, length);
    source->offset += length;
}

// Decodes a PNG held in memory to interleaved 8-bit gray (1 channel; gray files) or RGB (3; all
// others). max_pixels bounds width*height before any allocation. Returns a malloc'd buffer of
// height*width*channels bytes (free() it), or NULL with result->message set.
static inline unsigned char *atalp_png_decode(const unsigned char *data, size_t size, long max_pixels,
                                              atalp_png_result *result) {
    memset(result, 0, sizeof *result);
    atalp_png_source source = {data, size, 0, result->message};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &source, atalp_png_error, atalp_png_warning);
    if (!png) { snprintf(result->message, sizeof result->message, "out of memory"); return NULL; }
    png_infop info = png_create_info_struct(png);
    unsigned char *volatile out = NULL;
    png_bytep *volatile rows = NULL;
    if (!info || setjmp(png_jmpbuf(png))) {
        if (!info) snprintf(result->message, sizeof result->message, "out of memory");
        png_destroy_read_struct(&png, info ? &info : NULL, NULL);
        free(out);
        free(rows);
        return NULL;
    }
    png_set_read_fn(png, &source, atalp_png_read);
    png_read_info(png, info);
    png_uint_32 width = png_get_image_width(png, info), height = png_get_image_height(png, info);
    int color_type = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
    result->width = (int)width;
    result->height = (int)height;
    result->color_type = color_type;
    result->bit_depth = depth;
    result->interlaced = png_get_interlace_type(png, info) != PNG_INTERLACE_NONE;
    if (width == 0 || height == 0 || (long)width * (long)height > max_pixels) {
        png_error(png, "image size is out of range");
    }
    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color_type == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    if (depth == 16) png_set_strip_16(png);
    png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int channels = png_get_channels(png, info);
    if ((channels != 1 && channels != 3) || png_get_bit_depth(png, info) != 8) {
        png_error(png, "unexpected sample layout after conversion");
    }
    size_t stride = (size_t)width * (size_t)channels;
    if (png_get_rowbytes(png, info) != stride) png_error(png, "unexpected row size after conversion");
    out = (unsigned char *)malloc(stride * height);
    rows = (png_bytep *)malloc(sizeof(png_bytep) * height);
    if (!out || !rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < height; y++) rows[y] = out + (size_t)y * stride;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    result->channels = channels;
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    return out;
}
