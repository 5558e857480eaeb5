/* Padded copies of planes, so that kernels read every tap without testing it against the
   plane's edges: the Winograd transforms (winograd.c, winograd4_avx512.c) and the convolutions
   read in place (pad_planes.c). Not part of the module's API. */
#pragma once
#include "CKernels.h"
#include <stddef.h>
#include <string.h>

/* Fills the first `zeroed` floats of `pad` (at least its ph × pw plane) with zeros and copies
 * the strip's h × w planes in at (pad_top, pad_left + n·period); rows and columns falling
 * outside the ph × pw scratch are dropped (nothing reads them). Anything after `zeroed` floats is
 * left alone. */
static inline void ck_pad_strip(const float *x, int h, int w, int pad_top, int pad_left, int ph, int pw, size_t zeroed,
                                float *pad, ck_strip strip) {
    memset(pad, 0, sizeof(float) * zeroed);
    for (int n = 0; n < strip.planes; n++) {
        const float *plane = x + (size_t)n * strip.stride;
        const int lo = pad_left + n * strip.period, hi = lo + w < pw ? lo + w : pw;
        if (hi <= lo) break;
        for (int y = 0; y < ph; y++) {
            const int iy = y - pad_top;
            if (iy < 0 || iy >= h) continue;
            memcpy(pad + (size_t)y * pw + lo, plane + (size_t)iy * w, sizeof(float) * (size_t)(hi - lo));
        }
    }
}
