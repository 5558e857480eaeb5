#include "dispatch.h"
#include "depthwise_avx512.h"

/*
 * Depthwise convolution of one plane straight from the input, 16 outputs per vector: each tap
 * is one load of 16 input columns (two loads and an even-lane permute at stride 2), the
 * columns outside the plane masked to zero, so there is no padded copy of the plane and no
 * copy back (the portable kernel in kernels.c makes both; EfficientNet spent more time in
 * them than in the taps). Taps outside the plane's rows are skipped. The taps are summed in
 * (ky, kx) order with separate multiply and add, as the portable kernel does, so both round
 * the same.
 */

#if CK_HAS_VARIANTS
#include <immintrin.h>
#include <stdint.h>

/* The bits [lo, hi) of a 16-lane mask, clamped to the lanes. */
static inline __mmask16 lane_range(int lo, int hi) {
    lo = lo < 0 ? 0 : lo;
    hi = hi > 16 ? 16 : hi;
    if (hi <= lo) return 0;
    return (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
}

/* Output rows computed together: independent sums, so that the adds' latency overlaps. */
enum { ROWS = 8 };

CK_AVX512 void ck_depthwise_direct_avx512(const float *x, const float *weights, const ck_window *g, float *out, float bias,
                                          float lo, float hi) {
    const int h = g->height, w = g->width, oh = g->out_height, ow = g->out_width;
    const int kh = g->kernel_h, kw = g->kernel_w, sh = g->stride_h, sw = g->stride_w;
    const __m512 vb = _mm512_set1_ps(bias), vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    for (int oy0 = 0; oy0 < oh; oy0 += ROWS) {
        const int rows = oh - oy0 < ROWS ? oh - oy0 : ROWS;
        for (int ox = 0; ox < ow; ox += 16) {
            __m512 acc[ROWS];
            for (int r = 0; r < ROWS; r++) acc[r] = _mm512_setzero_ps();
            for (int ky = 0; ky < kh; ky++) {
                const float *wrow = weights + ky * kw;
                for (int kx = 0; kx < kw; kx++) {
                    /* Lane i reads input column ix0 + sw·i; the masks keep the reads inside the row. */
                    const int ix0 = ox * sw + kx - g->pad_left;
                    const __mmask16 m0 = lane_range(-ix0, w - ix0), m1 = lane_range(-ix0 - 16, w - ix0 - 16);
                    const __m512 wv = _mm512_set1_ps(wrow[kx]);
                    for (int r = 0; r < ROWS; r++) {
                        const int iy = (oy0 + r) * sh + ky - g->pad_top;
                        if (r >= rows || iy < 0 || iy >= h) continue;
                        const float *base = (const float *)((uintptr_t)(x + (size_t)iy * w) + (intptr_t)ix0 * (intptr_t)sizeof(float));
                        __m512 v = _mm512_maskz_loadu_ps(m0, base);
                        if (sw == 2) v = _mm512_permutex2var_ps(v, even, _mm512_maskz_loadu_ps(m1, base + 16));
                        acc[r] = _mm512_add_ps(acc[r], _mm512_mul_ps(wv, v));
                    }
                }
            }
            /* Bias and clamp, NaN kept as the portable kernel keeps it (max/min return their second operand then). */
            const __mmask16 store = lane_range(0, ow - ox);
            for (int r = 0; r < rows; r++) {
                const __m512 t = _mm512_add_ps(acc[r], vb);
                _mm512_mask_storeu_ps(out + (size_t)(oy0 + r) * ow + ox, store, _mm512_min_ps(vhi, _mm512_max_ps(vlo, t)));
            }
        }
    }
}
#endif
