// OpenBLAS's CBLAS interface, plus the thread-count controls we need to keep BLAS single-threaded
// inside our own parallel loops (nested thread pools are many times slower).
#include <cblas.h>
