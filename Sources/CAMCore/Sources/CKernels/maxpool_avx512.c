#include "CKernels.h"
#include "dispatch.h"
#include "scratch.h"
#include "lanes.h"

/*
 * Max pooling of one plane for AVX-512 (ResNet's 3 × 3, stride-2 pool after the stem). The
 * portable Swift loop (Pooling.swift) runs at the x86-64 baseline's 4 lanes; here 16, with the
 * window's rows pooled into a column buffer padded with −∞ on both sides, then its columns
 * 16 outputs at a time (at stride 2, two loads and an even-lane permute). A NaN anywhere in a
 * window makes its output NaN, as in the portable loop; positions outside the plane are skipped
 * (−∞ here), so a window wholly outside gives −∞ there and here.
 */

#if CK_HAS_VARIANTS
#include <immintrin.h>

/* max(a, b), NaN if either is. */
CK_AVX512 static inline __m512 max_nan(__m512 a, __m512 b) {
    return _mm512_mask_add_ps(_mm512_max_ps(a, b), _mm512_cmp_ps_mask(a, b, _CMP_UNORD_Q), a, b);
}

CK_AVX512 static void maxpool_avx512(const float *x, const ck_window *g, float *out, float *column, int left, int length) {
    const int h = g->height, w = g->width, ow = g->out_width, sw = g->stride_w;
    const __m512 lowest = _mm512_set1_ps(-__builtin_inff());
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    for (int i = 0; i < length; i++) column[i] = -__builtin_inff();
    float *inside = column + left;
    for (int oy = 0; oy < g->out_height; oy++) {
        int rows = 0;
        for (int ky = 0; ky < g->kernel_h; ky++) {
            const int iy = oy * g->stride_h - g->pad_top + ky;
            if (iy < 0 || iy >= h) continue;
            const float *row = x + (size_t)iy * w;
            for (int j = 0; j < w; j += 16) {
                const __mmask16 m = ck_first_lanes(w - j);
                const __m512 v = _mm512_maskz_loadu_ps(m, row + j);
                _mm512_mask_storeu_ps(inside + j, m, rows == 0 ? v : max_nan(_mm512_maskz_loadu_ps(m, inside + j), v));
            }
            rows++;
        }
        if (rows == 0)
            for (int j = 0; j < w; j++) inside[j] = -__builtin_inff();
        float *dst = out + (size_t)oy * ow;
        for (int ox = 0; ox < ow; ox += 16) {
            __m512 acc = lowest;
            for (int kx = 0; kx < g->kernel_w; kx++) {
                const float *base = inside + (ptrdiff_t)ox * sw - g->pad_left + kx;
                const __m512 v = sw == 1 ? _mm512_loadu_ps(base)
                                         : _mm512_permutex2var_ps(_mm512_loadu_ps(base), even, _mm512_loadu_ps(base + 16));
                acc = kx == 0 ? v : max_nan(acc, v);
            }
            const __mmask16 m = ck_first_lanes(ow - ox);
            _mm512_mask_storeu_ps(dst + ox, m, acc);
        }
    }
}
#endif

int ck_maxpool_plane(const float *x, const ck_window *g, float *out) {
#if CK_HAS_VARIANTS
    if (ck_level() != 2 || g->dilation_h != 1 || g->dilation_w != 1 || g->stride_w < 1 || g->stride_w > 2 || g->kernel_w < 1)
        return -2;
    /* The column with −∞ before it (the left padding) and after it (the right padding, and
       what the last vector of outputs reads past the row). */
    const int left = g->pad_left;
    const int reach = ((g->out_width + 15) / 16 * 16 - 1) * g->stride_w + g->kernel_w + 16;
    const int length = left + (reach > g->width ? reach : g->width) + 16;
    float *column = ck_thread_scratch((size_t)length);
    if (!column) return -1;
    maxpool_avx512(x, g, out, column, left, length);
    return 0;
#else
    (void)x; (void)g; (void)out;
    return -2;
#endif
}
