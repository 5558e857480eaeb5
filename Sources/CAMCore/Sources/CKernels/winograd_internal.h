/* Shared by winograd.c and winograd4_avx512.c (not part of the module's API). */
#pragma once
#include "CKernels.h"
#include <stddef.h>
#include <string.h>

/* Fills the first `zeroed` floats of `pad` (at least its ph × pw plane) with zeros and copies
 * the strip's h × w planes in at (pad_top, pad_left + n·period); rows and columns falling
 * outside the ph × pw scratch are dropped (the tiles never read them). The scratch after it
 * (the row transforms) is left alone: the transforms overwrite it whole. */
static inline void ck_winograd_pad(const float *x, int h, int w, int pad_top, int pad_left, int ph, int pw, size_t zeroed,
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

/* F(4×4, 3×3)'s transforms with AVX-512 intrinsics (winograd4_avx512.c), called by winograd.c's
 * dispatch on CPUs that have it; same arguments and results as its portable kernels. */
int ck_winograd4_input_avx512(const float *x, int h, int w, int pad_top, int pad_left, int th, int tw, float *v,
                              size_t xi_stride, ck_strip strip);
int ck_winograd4_output_avx512(const float *mm, size_t xi_stride, int th, int tw, float *y, int out_h, int out_w,
                               float bias, float lo, float hi, ck_strip strip);
