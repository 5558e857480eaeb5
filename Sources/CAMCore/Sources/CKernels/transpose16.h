/* 16 × 16 transposes in AVX-512 registers, shared by the kernels that compute with channels
   (or rows of C) in vector lanes and store them as planes (or rows). Not part of the module's API. */
#pragma once
#include "dispatch.h"
#include "lanes.h"

#if CK_HAS_VARIANTS
#include <immintrin.h>

/* r[i][j] ↔ r[j][i] for a 16 × 16 block held in 16 vectors. */
CK_AVX512 __attribute__((always_inline)) static inline void ck_transpose16(__m512 r[16]) {
    __m512 t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    /* u[4g + e], 128-bit lane L: rows 4g … 4g + 3, element 4L + e. */
    for (int g = 0; g < 16; g += 4) {
        u[g] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[g]), _mm512_castps_pd(t[g + 2])));
        u[g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[g]), _mm512_castps_pd(t[g + 2])));
        u[g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[g + 1]), _mm512_castps_pd(t[g + 3])));
        u[g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[g + 1]), _mm512_castps_pd(t[g + 3])));
    }
    /* Row 4L + e gathers lane L of u[e], u[4 + e], u[8 + e], u[12 + e]. */
    for (int e = 0; e < 4; e++) {
        const __m512 a = _mm512_shuffle_f32x4(u[e], u[4 + e], 0x88), b = _mm512_shuffle_f32x4(u[e], u[4 + e], 0xDD);
        const __m512 c = _mm512_shuffle_f32x4(u[8 + e], u[12 + e], 0x88), d = _mm512_shuffle_f32x4(u[8 + e], u[12 + e], 0xDD);
        r[e] = _mm512_shuffle_f32x4(a, c, 0x88);
        r[4 + e] = _mm512_shuffle_f32x4(b, d, 0x88);
        r[8 + e] = _mm512_shuffle_f32x4(a, c, 0xDD);
        r[12 + e] = _mm512_shuffle_f32x4(b, d, 0xDD);
    }
}


/* What ck_store_transposed applies to each value: min(max((v + bias[row]) + residual, lo), hi),
   as ck_bias_residual_clamp does; nothing when not `active`. `bias` and `residual` start at the
   block's first row and may be NULL. */
typedef struct {
    int active;
    const float *bias, *residual;
    size_t residual_pitch;
    float lo, hi;
} ck_transposed_epilogue;

/* dst[r · ldc + j] = epilogue(src[j · pitch + r]) for rows r < rows (≤ 16) and columns j < cols:
   a block kept with its rows in vector lanes ([column][row], `pitch` floats per column, read
   in whole vectors of 16 columns) stored as rows. The loops over 16 are unrolled in full, so
   that each vector is indexed by a constant and stays in a register. */
CK_AVX512 __attribute__((always_inline)) static inline void ck_store_transposed(const float *src, size_t pitch, int cols, int rows,
                                                                               ck_transposed_epilogue e, float *dst, size_t ldc) {
    const __m512 vlo = _mm512_set1_ps(e.lo), vhi = _mm512_set1_ps(e.hi);
    for (int col = 0; col < cols; col += 16) {
        const __mmask16 m = ck_first_lanes(cols - col);
        __m512 r[16];
#pragma clang loop unroll(full)
        for (int j = 0; j < 16; j++) r[j] = _mm512_loadu_ps(src + (size_t)(col + j) * pitch);
        ck_transpose16(r);
#pragma clang loop unroll(full)
        for (int row = 0; row < 16; row++) {
            if (row >= rows) continue;
            __m512 t = r[row];
            if (e.active) {
                t = _mm512_add_ps(t, _mm512_set1_ps(e.bias ? e.bias[row] : 0.0f));
                if (e.residual) t = _mm512_add_ps(t, _mm512_maskz_loadu_ps(m, e.residual + row * e.residual_pitch + col));
                /* max/min return their second operand for NaN: a NaN sum is kept, as elsewhere. */
                t = _mm512_min_ps(vhi, _mm512_max_ps(vlo, t));
            }
            _mm512_mask_storeu_ps(dst + row * ldc + col, m, t);
        }
    }
}
#endif
