/* Per-thread scratch for the C kernels (not part of the module's API). */
#pragma once
#include <stddef.h>

/*
 * A scratch buffer of at least `floats` floats, 64-byte aligned, owned by the calling thread
 * and reused by its next kernel call (so not to be held across calls, nor used by two kernels
 * at once). It grows to the largest request seen and is kept for the thread's life: the
 * kernels run on a fixed pool of workers, and allocating and freeing a plane's scratch on
 * every call cost ResNet-18 about 4 % of a forward pass in `free` alone. Contents are
 * undefined. Returns NULL when out of memory.
 */
float *ck_thread_scratch(size_t floats);
