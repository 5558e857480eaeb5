// A libhdf5 reader that runs in its own process.
//
// libhdf5 trusts the files it reads: a damaged or crafted file can make it write out of
// bounds or crash (HDF5 1.10's global-heap reads of variable-length strings do, for one), and
// it is not thread-safe. So SwiftCAM never calls libhdf5 in its own process: cam_h5_spawn forks
// a child that opens the file and answers requests over a socket — exists, is-a-group, read a
// string attribute, read a dataset as float32 — and a crash there is only a closed socket to
// the caller. The child runs only C code (libc and libhdf5), never the Swift runtime, so fork
// is safe in a multithreaded process.
//
// Protocol (native byte order, one request at a time):
//   request:  u32 op, u32 length A, A bytes, u32 length B, B bytes
//   response: i32 status (1 ok/yes, 0 absent/no, -1 error), then
//             error:       u32 length, message bytes
//             strings:     u32 count, then count × (u32 length, bytes)
//             floats:      u32 rank, rank × u64 dims, then the float32 values
//   After the spawn the child first sends one status: 1 (open), or -1 with a message.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum {
    CAM_H5_OP_EXISTS = 1,   // A: object path → 1/0
    CAM_H5_OP_IS_GROUP = 2, // A: object path → 1/0
    CAM_H5_OP_STRINGS = 3,  // A: object path, B: attribute name → strings / 0 absent / error
    CAM_H5_OP_FLOATS = 4,   // A: dataset path → floats / error
};

/// Error statuses beyond -1 that the initial status may carry.
enum {
    CAM_H5_NOT_HDF5 = -2,   // the file has no HDF5 signature
};

/// Most elements one dataset may have (checked before anything is allocated).
#define CAM_H5_MAX_ELEMENTS (1ULL << 31)

/// Forks the reader process for `path`. On success returns 0 with the child's pid and the
/// parent's end of a connected socket; on failure -1 (errno set).
int cam_h5_spawn(const char *path, pid_t *pid, int *socket_fd);
