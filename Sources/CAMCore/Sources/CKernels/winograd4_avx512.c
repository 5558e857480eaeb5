#include "dispatch.h"
#include "scratch.h"
#include "winograd_internal.h"
#include "lanes.h"

/*
 * F(4×4, 3×3)'s input and output transforms with AVX-512 intrinsics, 16 tiles per vector.
 *
 * The portable kernels in winograd.c loop over the tiles of one tile row: 14 or fewer on
 * most layers, too short for the compiler's 16-lane loops, and their stride-4 reads and
 * writes defeat its vectoriser. Here the stride-4 traffic is shuffled into place explicitly,
 * and a short row is one masked vector. The arithmetic is the same sequence of float
 * operations as the portable BT4/AT4 (no fused multiply-adds), so both round identically.
 */

#if CK_HAS_VARIANTS
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

/* Bᵀ of F(4×4, 3×3) on six vectors, as BT4 in winograd.c. */
#define BT4V(d0, d1, d2, d3, d4, d5, o)                                                             \
    {                                                                                               \
        const __m512 four = _mm512_set1_ps(4.0f), five = _mm512_set1_ps(5.0f), two = _mm512_set1_ps(2.0f); \
        const __m512 a12 = _mm512_add_ps(d1, d2), s12 = _mm512_sub_ps(d1, d2);                      \
        const __m512 s13 = _mm512_sub_ps(d1, d3), s42 = _mm512_sub_ps(d4, d2);                      \
        o[0] = _mm512_add_ps(_mm512_sub_ps(_mm512_mul_ps(four, d0), _mm512_mul_ps(five, d2)), d4);   \
        o[1] = _mm512_sub_ps(_mm512_add_ps(d3, d4), _mm512_mul_ps(four, a12));                       \
        o[2] = _mm512_add_ps(_mm512_sub_ps(d4, d3), _mm512_mul_ps(four, s12));                       \
        o[3] = _mm512_sub_ps(s42, _mm512_mul_ps(two, s13));                                          \
        o[4] = _mm512_add_ps(s42, _mm512_mul_ps(two, s13));                                          \
        o[5] = _mm512_add_ps(_mm512_sub_ps(_mm512_mul_ps(four, d1), _mm512_mul_ps(five, d3)), d5);   \
    }

/* Aᵀ of F(4×4, 3×3) on six vectors, as AT4 in winograd.c. */
#define AT4V(m0, m1, m2, m3, m4, m5, o)                                                             \
    {                                                                                               \
        const __m512 a12 = _mm512_add_ps(m1, m2), s12 = _mm512_sub_ps(m1, m2);                      \
        const __m512 a34 = _mm512_add_ps(m3, m4), s34 = _mm512_sub_ps(m3, m4);                      \
        o[0] = _mm512_add_ps(_mm512_add_ps(m0, a12), a34);                                          \
        o[1] = _mm512_add_ps(s12, _mm512_mul_ps(_mm512_set1_ps(2.0f), s34));                        \
        o[2] = _mm512_add_ps(a12, _mm512_mul_ps(_mm512_set1_ps(4.0f), a34));                        \
        o[3] = _mm512_add_ps(_mm512_add_ps(s12, _mm512_mul_ps(_mm512_set1_ps(8.0f), s34)), m5);     \
    }

/* Lanes 0–15 = elements j, j+4, …, j+60 of the 64 floats at p: one stride-4 phase. */
CK_AVX512 static inline __m512 phase(const float *p, __m512i index) {
    const __m512 lo = _mm512_permutex2var_ps(_mm512_loadu_ps(p), index, _mm512_loadu_ps(p + 16));
    const __m512 hi = _mm512_permutex2var_ps(_mm512_loadu_ps(p + 32), index, _mm512_loadu_ps(p + 48));
    return _mm512_shuffle_f32x4(lo, hi, _MM_SHUFFLE(1, 0, 1, 0));
}

/* Slack after the padded plane for the last block's reads (up to 68 floats past a tile row). */
enum { READ_SLACK = 80 };

CK_AVX512 int ck_winograd4_input_avx512(const float *restrict x, int h, int w, int pad_top, int pad_left, int th, int tw,
                                        float *restrict v, size_t xi_stride, ck_strip strip) {
    const int ph = 4 * th + 2, pw = 4 * tw + 2;
    const int blocks = (tw + 15) / 16, tws = 16 * blocks;
    const size_t plane = (size_t)ph * pw + READ_SLACK, rs = (size_t)ph * tws;
    float *pad = ck_thread_scratch(plane + 6 * rs);
    if (!pad) return -1;
    float *restrict rt = pad + plane;
    ck_pad_strip(x, h, w, pad_top, pad_left, ph, pw, plane, pad, strip);
    __m512i index[4];
    for (int j = 0; j < 4; j++) index[j] = _mm512_add_epi32(_mm512_set1_epi32(j), _mm512_mullo_epi32(_mm512_set1_epi32(4),
        _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)));
    /* Along the rows: tile t of row y reads d_j = p[4t + j], j < 6; d4, d5 are the next tile's d0, d1. */
    for (int y = 0; y < ph; y++) {
        const float *p = pad + (size_t)y * pw;
        for (int b = 0; b < blocks; b++) {
            const float *base = p + 64 * b;
            const __m512 d0 = phase(base, index[0]), d1 = phase(base, index[1]);
            const __m512 d2 = phase(base, index[2]), d3 = phase(base, index[3]);
            const __m512 d4 = phase(base + 4, index[0]), d5 = phase(base + 4, index[1]);
            __m512 o[6];
            BT4V(d0, d1, d2, d3, d4, d5, o)
            for (int k = 0; k < 6; k++) _mm512_storeu_ps(rt + k * rs + (size_t)y * tws + 16 * b, o[k]);
        }
    }
    /* Down the columns: tile row ty reads rows 4·ty … 4·ty + 5 of each row transform. */
    for (int ty = 0; ty < th; ty++) {
        for (int j = 0; j < 6; j++) {
            const float *s = rt + j * rs + (size_t)(4 * ty) * tws;
            float *out = v + (size_t)j * xi_stride + (size_t)ty * tw;
            for (int b = 0; b < blocks; b++) {
                const int left = tw - 16 * b;
                const __mmask16 mask = ck_first_lanes(left);
                const float *c = s + 16 * b;
                __m512 o[6];
                BT4V(_mm512_loadu_ps(c), _mm512_loadu_ps(c + tws), _mm512_loadu_ps(c + 2 * tws), _mm512_loadu_ps(c + 3 * tws),
                     _mm512_loadu_ps(c + 4 * tws), _mm512_loadu_ps(c + 5 * tws), o)
                for (int i = 0; i < 6; i++) _mm512_mask_storeu_ps(out + (size_t)(6 * i) * xi_stride + 16 * b, mask, o[i]);
            }
        }
    }
    return 0;
}

CK_AVX512 int ck_winograd4_output_avx512(const float *restrict mm, size_t xi_stride, int th, int tw, float *restrict y,
                                         int out_h, int out_w, float bias, float lo, float hi, ck_strip strip) {
    const int blocks = (tw + 15) / 16, tws = 16 * blocks, sw = 4 * tws;
    float *scratch = ck_thread_scratch((size_t)4 * th * sw + 24 * (size_t)tws);
    if (!scratch) return -1;
    float *restrict s = scratch + (size_t)4 * th * sw;
    for (int ty = 0; ty < th; ty++) {
        /* Down the columns: s[(6·r + j)·tws + t] = (Aᵀ M)[r][j] of tile t. */
        for (int j = 0; j < 6; j++) {
            const float *m = mm + (size_t)j * xi_stride + (size_t)ty * tw;
            for (int b = 0; b < blocks; b++) {
                const int left = tw - 16 * b;
                const __mmask16 mask = ck_first_lanes(left);
                const float *c = m + 16 * b;
                __m512 o[4];
                AT4V(_mm512_maskz_loadu_ps(mask, c), _mm512_maskz_loadu_ps(mask, c + 6 * xi_stride),
                     _mm512_maskz_loadu_ps(mask, c + 12 * xi_stride), _mm512_maskz_loadu_ps(mask, c + 18 * xi_stride),
                     _mm512_maskz_loadu_ps(mask, c + 24 * xi_stride), _mm512_maskz_loadu_ps(mask, c + 30 * xi_stride), o)
                for (int r = 0; r < 4; r++) _mm512_storeu_ps(s + (size_t)(6 * r + j) * tws + 16 * b, o[r]);
            }
        }
        /* Along the rows: output row 4·ty + r, columns 4t … 4t + 3 from tile t's four values. */
        for (int r = 0; r < 4; r++) {
            const float *q = s + (size_t)(6 * r) * tws;
            float *row = scratch + (size_t)(4 * ty + r) * sw;
            for (int b = 0; b < blocks; b++) {
                const float *c = q + 16 * b;
                __m512 o[4];
                AT4V(_mm512_loadu_ps(c), _mm512_loadu_ps(c + tws), _mm512_loadu_ps(c + 2 * tws), _mm512_loadu_ps(c + 3 * tws),
                     _mm512_loadu_ps(c + 4 * tws), _mm512_loadu_ps(c + 5 * tws), o)
                /* Interleave: lane L of x_k holds tile 4L + k's four outputs, then 128-bit lanes transposed. */
                const __m512 t01lo = _mm512_unpacklo_ps(o[0], o[1]), t01hi = _mm512_unpackhi_ps(o[0], o[1]);
                const __m512 t23lo = _mm512_unpacklo_ps(o[2], o[3]), t23hi = _mm512_unpackhi_ps(o[2], o[3]);
                const __m512 x0 = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t01lo), _mm512_castps_pd(t23lo)));
                const __m512 x1 = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t01lo), _mm512_castps_pd(t23lo)));
                const __m512 x2 = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t01hi), _mm512_castps_pd(t23hi)));
                const __m512 x3 = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t01hi), _mm512_castps_pd(t23hi)));
                const __m512 a = _mm512_shuffle_f32x4(x0, x1, _MM_SHUFFLE(1, 0, 1, 0));
                const __m512 bb = _mm512_shuffle_f32x4(x2, x3, _MM_SHUFFLE(1, 0, 1, 0));
                const __m512 c2 = _mm512_shuffle_f32x4(x0, x1, _MM_SHUFFLE(3, 2, 3, 2));
                const __m512 d = _mm512_shuffle_f32x4(x2, x3, _MM_SHUFFLE(3, 2, 3, 2));
                float *dst = row + 64 * b;
                _mm512_storeu_ps(dst, _mm512_shuffle_f32x4(a, bb, _MM_SHUFFLE(2, 0, 2, 0)));
                _mm512_storeu_ps(dst + 16, _mm512_shuffle_f32x4(a, bb, _MM_SHUFFLE(3, 1, 3, 1)));
                _mm512_storeu_ps(dst + 32, _mm512_shuffle_f32x4(c2, d, _MM_SHUFFLE(2, 0, 2, 0)));
                _mm512_storeu_ps(dst + 48, _mm512_shuffle_f32x4(c2, d, _MM_SHUFFLE(3, 1, 3, 1)));
            }
        }
    }
    /* Bias and clamp, NaN kept as the portable kernel keeps it (max/min return their second operand then). */
    const __m512 vb = _mm512_set1_ps(bias), vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
    for (int n = 0; n < strip.planes; n++) {
        for (int oy = 0; oy < out_h; oy++) {
            const float *src = scratch + (size_t)oy * sw + (size_t)n * strip.period;
            float *dst = y + (size_t)n * strip.stride + (size_t)oy * out_w;
            for (int ox = 0; ox < out_w; ox += 16) {
                const int left = out_w - ox;
                const __mmask16 mask = ck_first_lanes(left);
                const __m512 t = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, src + ox), vb);
                _mm512_mask_storeu_ps(dst + ox, mask, _mm512_min_ps(vhi, _mm512_max_ps(vlo, t)));
            }
        }
    }
    return 0;
}
#endif
