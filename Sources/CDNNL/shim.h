// oneDNN's C API (Debian's libdnnl-dev 2.6, built on GNU OpenMP), plus what Swift cannot import:
// the DNNL_MEMORY_* handle macros are pointer casts, and the OpenMP thread count (oneDNN 2.6 with the
// OMP runtime has no setter of its own) comes from libgomp, whose omp.h is not on clang's path.
#include <oneapi/dnnl/dnnl.h>

int omp_get_max_threads(void);
void omp_set_num_threads(int n);
int omp_get_thread_num(void);
int omp_get_num_threads(void);

// What `#pragma omp parallel num_threads(n)` compiles to in GCC (libgomp's ABI since GCC 4.9): runs
// fn(data) on every thread of a team of n, the caller included, and returns when all are done. It lets
// `Parallel` run its loops on the same OpenMP team as oneDNN, so the process has one pool of workers.
void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);

/// A memory object whose data handle is set before each use (DNNL_MEMORY_NONE).
static inline void *atalp_dnnl_memory_none(void) { return DNNL_MEMORY_NONE; }
