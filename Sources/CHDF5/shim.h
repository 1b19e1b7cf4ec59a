// CHDF5 — an implementation detail of the Store module: libhdf5 (1.10+) plus a few static inline
// wrappers. HDF5's type and property-list "constants" (H5T_NATIVE_FLOAT, H5P_DATASET_CREATE,
// H5F_ACC_EXCL, ...) are macros that call H5open() and then read a runtime global; Swift cannot
// import them, and Swift 6 rejects the raw `*_g` globals as shared mutable state. Each wrapper
// below evaluates the macro in C, so H5open() always runs first.
#ifndef ATALP_CHDF5_SHIM_H
#define ATALP_CHDF5_SHIM_H

#include <hdf5.h>
#include <stdio.h>
#include <string.h>

#define ATALP_HDF5_SHIM static inline __attribute__((__always_inline__))

// Memory (native) types: what Swift's Float, UInt8, Int32, Int64, Double are in RAM.
ATALP_HDF5_SHIM hid_t shim_H5T_NATIVE_FLOAT(void) { return H5T_NATIVE_FLOAT; }
ATALP_HDF5_SHIM hid_t shim_H5T_NATIVE_DOUBLE(void) { return H5T_NATIVE_DOUBLE; }
ATALP_HDF5_SHIM hid_t shim_H5T_NATIVE_UINT8(void) { return H5T_NATIVE_UINT8; }
ATALP_HDF5_SHIM hid_t shim_H5T_NATIVE_INT32(void) { return H5T_NATIVE_INT32; }
ATALP_HDF5_SHIM hid_t shim_H5T_NATIVE_INT64(void) { return H5T_NATIVE_INT64; }

// File types: explicit little-endian, so files are the same on every machine.
ATALP_HDF5_SHIM hid_t shim_H5T_IEEE_F32LE(void) { return H5T_IEEE_F32LE; }
ATALP_HDF5_SHIM hid_t shim_H5T_IEEE_F64LE(void) { return H5T_IEEE_F64LE; }
ATALP_HDF5_SHIM hid_t shim_H5T_STD_U8LE(void) { return H5T_STD_U8LE; }
ATALP_HDF5_SHIM hid_t shim_H5T_STD_I32LE(void) { return H5T_STD_I32LE; }
ATALP_HDF5_SHIM hid_t shim_H5T_STD_I64LE(void) { return H5T_STD_I64LE; }
ATALP_HDF5_SHIM hid_t shim_H5T_C_S1(void) { return H5T_C_S1; }
ATALP_HDF5_SHIM size_t shim_H5T_VARIABLE(void) { return H5T_VARIABLE; }

// Property-list classes and defaults.
ATALP_HDF5_SHIM hid_t shim_H5P_DEFAULT(void) { return H5P_DEFAULT; }
ATALP_HDF5_SHIM hid_t shim_H5P_FILE_ACCESS(void) { return H5P_FILE_ACCESS; }
ATALP_HDF5_SHIM hid_t shim_H5P_FILE_CREATE(void) { return H5P_FILE_CREATE; }
ATALP_HDF5_SHIM hid_t shim_H5P_DATASET_CREATE(void) { return H5P_DATASET_CREATE; }
ATALP_HDF5_SHIM hid_t shim_H5P_GROUP_CREATE(void) { return H5P_GROUP_CREATE; }
ATALP_HDF5_SHIM hid_t shim_H5S_ALL(void) { return H5S_ALL; }

// File access flags.
ATALP_HDF5_SHIM unsigned shim_H5F_ACC_EXCL(void) { return H5F_ACC_EXCL; }
ATALP_HDF5_SHIM unsigned shim_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
ATALP_HDF5_SHIM unsigned shim_H5O_INFO_BASIC(void) { return H5O_INFO_BASIC; }

/// Opens files through `fapl` without HDF5's file lock (flock). Readers of atalp's files use it: every
/// file atalp writes is published by rename and never changed in place, so a reader needs no lock,
/// and taking one makes a read fail ("unable to lock file, errno = 11") whenever another program
/// holds the file open for writing (h5py's mode "r+"). Returns 0 where HDF5 is older than 1.10.7 and
/// has no such switch (HDF5_USE_FILE_LOCKING=FALSE in the environment does the same there).
ATALP_HDF5_SHIM herr_t shim_disable_file_locking(hid_t fapl) {
#if H5_VERSION_GE(1, 10, 7)
    return H5Pset_file_locking(fapl, 0, 1);
#else
    (void)fapl;
    return 0;
#endif
}

/// Turns off HDF5's automatic printing of error stacks on the calling thread (the thread-safe build
/// keeps error state per thread); errors are reported through `shim_error_stack` instead.
ATALP_HDF5_SHIM void shim_silence_errors(void) {
    H5open();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

typedef struct {
    char *buffer;
    size_t capacity;
    size_t length;
} shim_error_buffer;

static herr_t shim_error_walk(unsigned n, const H5E_error2_t *err, void *data) {
    shim_error_buffer *out = (shim_error_buffer *)data;
    if (out->length + 1 >= out->capacity) return 0;
    char minor[128] = "";
    if (err->min_num > 0) H5Eget_msg(err->min_num, NULL, minor, sizeof minor);
    int written = snprintf(out->buffer + out->length, out->capacity - out->length, "%s%s(): %s%s%s",
                           n == 0 ? "" : "; ", err->func_name ? err->func_name : "?",
                           err->desc ? err->desc : "", minor[0] ? " — " : "", minor);
    if (written > 0) {
        out->length += (size_t)written;
        if (out->length >= out->capacity) out->length = out->capacity - 1;
    }
    return 0;
}

/// Writes the calling thread's current HDF5 error stack, innermost call first, into `buffer`
/// (always NUL-terminated) and clears the stack.
ATALP_HDF5_SHIM void shim_error_stack(char *buffer, size_t capacity) {
    if (capacity == 0) return;
    buffer[0] = 0;
    shim_error_buffer out = {buffer, capacity, 0};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, shim_error_walk, &out);
    H5Eclear2(H5E_DEFAULT);
}

/// Frees the strings HDF5 allocated while reading variable-length strings (H5Dvlen_reclaim in 1.10,
/// H5Treclaim from 1.12 on).
ATALP_HDF5_SHIM herr_t shim_vlen_reclaim(hid_t type, hid_t space, void *buffer) {
#if H5_VERSION_GE(1, 12, 0)
    return H5Treclaim(type, space, H5P_DEFAULT, buffer);
#else
    return H5Dvlen_reclaim(type, space, H5P_DEFAULT, buffer);
#endif
}

#endif
