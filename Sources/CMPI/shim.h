// MPI's C API (Debian's libopenmpi-dev, Open MPI 4), plus what Swift cannot import: Open MPI's
// handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, …) are macros that take the address of a global
// struct, and MPI_IN_PLACE is a pointer cast. Each is wrapped in a function here. Header and library
// paths come from pkg-config (ompi-c.pc).
#include <mpi.h>

static inline MPI_Comm atalp_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Comm atalp_mpi_comm_null(void) { return MPI_COMM_NULL; }
static inline MPI_Datatype atalp_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype atalp_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype atalp_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype atalp_mpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Op atalp_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op atalp_mpi_max(void) { return MPI_MAX; }
static inline void *atalp_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline int atalp_mpi_thread_serialized(void) { return MPI_THREAD_SERIALIZED; }
static inline int atalp_mpi_success(void) { return MPI_SUCCESS; }
