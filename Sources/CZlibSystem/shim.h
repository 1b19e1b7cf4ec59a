// zlib, for gzipped IDX files (gzopen/gzread read plain files unchanged, so one path serves both).
#include <zlib.h>
