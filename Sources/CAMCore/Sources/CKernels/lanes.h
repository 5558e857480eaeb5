/* Lane masks for the AVX-512 kernels. Not part of the module's API. */
#pragma once
#include "dispatch.h"

#if CK_HAS_VARIANTS
#include <immintrin.h>

/* The first n of a vector's 16 lanes (all for n ≥ 16, none for n ≤ 0): the mask of a row's
   last, partial vector. */
static inline __mmask16 ck_first_lanes(long n) { return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? 0 : (__mmask16)((1u << n) - 1); }
#endif
