// libpng through its simplified API (png_image_*), which reports errors in image.message and a
// zero return instead of longjmp, so Swift can call it directly. The helpers below turn the
// format macros into functions Swift can import.
#include <png.h>

static inline png_uint_32 atalp_png_version(void) { return PNG_IMAGE_VERSION; }
static inline png_uint_32 atalp_png_flag_color(void) { return PNG_FORMAT_FLAG_COLOR; }
static inline png_uint_32 atalp_png_flag_linear(void) { return PNG_FORMAT_FLAG_LINEAR; }
static inline png_uint_32 atalp_png_flag_alpha(void) { return PNG_FORMAT_FLAG_ALPHA; }
