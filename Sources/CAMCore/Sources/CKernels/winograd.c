#include "CKernels.h"
#include "dispatch.h"
#include "scratch.h"
#include "winograd_internal.h"
#include <stdlib.h>
#include <string.h>

/*
 * Winograd F(2×2, 3×3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks",
 * 2016). A 2×2 output tile comes from a 4×4 input tile d and a 3×3 filter g as
 *     Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A,
 * 16 multiplications instead of 36. Summed over input channels, the element-wise product at
 * each of the 16 positions ξ is a matrix product: M_ξ (out × tiles) = U_ξ (out × in) · V_ξ
 * (in × tiles), which the caller does with sgemm. These are the three transforms around it.
 * The matrices hold only 0, ±1 and ±½, so the transforms round like a direct convolution.
 *
 * F(4×4, 3×3), the same with 6×6 input tiles and 36 products for 16 outputs (4× fewer
 * multiplications than direct, against 2.25×), with Lavin & Gray's interpolation points
 * 0, ±1, ±2: its transforms hold 4, 5, 8 and ⅙, ¹⁄₂₄, so it rounds a little more (about
 * 10× F(2×2)'s error, still ~1e-6 relative on a layer).
 */

/* (G g Gᵀ) of one 3×3 filter g (row-major) into u[ξ·stride], ξ = 4·i + j. */
static void filter_transform(const float g[9], float *u, size_t stride) {
    float t[4][3];
    for (int c = 0; c < 3; c++) {
        const float g0 = g[c], g1 = g[3 + c], g2 = g[6 + c];
        t[0][c] = g0;
        t[1][c] = 0.5f * ((g0 + g1) + g2);
        t[2][c] = 0.5f * ((g0 - g1) + g2);
        t[3][c] = g2;
    }
    for (int i = 0; i < 4; i++) {
        const float a = t[i][0], b = t[i][1], c = t[i][2];
        u[(size_t)(4 * i + 0) * stride] = a;
        u[(size_t)(4 * i + 1) * stride] = 0.5f * ((a + b) + c);
        u[(size_t)(4 * i + 2) * stride] = 0.5f * ((a - b) + c);
        u[(size_t)(4 * i + 3) * stride] = c;
    }
}

/* (G g Gᵀ) of F(4×4, 3×3) into u[ξ·stride], ξ = 6·i + j. */
static void filter_transform4(const float g[9], float *u, size_t stride) {
    float t[6][3];
    for (int c = 0; c < 3; c++) {
        const float g0 = g[c], g1 = g[3 + c], g2 = g[6 + c];
        t[0][c] = g0 / 4.0f;
        t[1][c] = -((g0 + g1) + g2) / 6.0f;
        t[2][c] = -((g0 - g1) + g2) / 6.0f;
        t[3][c] = ((g0 + 2.0f * g1) + 4.0f * g2) / 24.0f;
        t[4][c] = ((g0 - 2.0f * g1) + 4.0f * g2) / 24.0f;
        t[5][c] = g2;
    }
    for (int i = 0; i < 6; i++) {
        const float a = t[i][0], b = t[i][1], c = t[i][2];
        u[(size_t)(6 * i + 0) * stride] = a / 4.0f;
        u[(size_t)(6 * i + 1) * stride] = -((a + b) + c) / 6.0f;
        u[(size_t)(6 * i + 2) * stride] = -((a - b) + c) / 6.0f;
        u[(size_t)(6 * i + 3) * stride] = ((a + 2.0f * b) + 4.0f * c) / 24.0f;
        u[(size_t)(6 * i + 4) * stride] = ((a - 2.0f * b) + 4.0f * c) / 24.0f;
        u[(size_t)(6 * i + 5) * stride] = c;
    }
}

void ck_winograd_filters(const float *w, int m, int c, int transposed, int tile, float *u) {
    const int rows = transposed ? c : m, cols = transposed ? m : c;
    const size_t stride = (size_t)rows * cols;
    for (int o = 0; o < rows; o++) {
        for (int i = 0; i < cols; i++) {
            float g[9];
            if (transposed) {
                /* The filter of the transposed convolution: w[i][o] turned by 180°. */
                const float *src = w + ((size_t)i * c + o) * 9;
                for (int k = 0; k < 9; k++) g[k] = src[8 - k];
            } else {
                memcpy(g, w + ((size_t)o * c + i) * 9, sizeof g);
            }
            if (tile == 4) filter_transform4(g, u + (size_t)o * cols + i, stride);
            else filter_transform(g, u + (size_t)o * cols + i, stride);
        }
    }
}

/*
 * Input transform of one strip: its planes are copied into a zero-bordered scratch of
 * (2·th + 2) × (2·tw + 2), so that every tile is interior; then Bᵀ d B is applied along the
 * rows (four values per tile column, for every scratch row) and down the columns, each a
 * loop over the tile columns that vectorises.
 */
#define INPUT_BODY                                                                                  \
    const int ph = 2 * th + 2, pw = 2 * tw + 2;                                                     \
    float *pad = ck_thread_scratch((size_t)ph * pw + 4 * (size_t)ph * tw);                          \
    if (!pad) return -1;                                                                            \
    float *restrict rt = pad + (size_t)ph * pw;                                                     \
    ck_pad_strip(x, h, w, pad_top, pad_left, ph, pw, (size_t)ph * pw, pad, strip);             \
    const size_t rs = (size_t)ph * tw;                                                              \
    for (int y = 0; y < ph; y++) {                                                                  \
        const float *restrict p = pad + (size_t)y * pw;                                             \
        float *restrict r0 = rt + (size_t)y * tw, *restrict r1 = r0 + rs, *restrict r2 = r1 + rs, *restrict r3 = r2 + rs; \
        for (int t = 0; t < tw; t++) {                                                              \
            const float d0 = p[2 * t], d1 = p[2 * t + 1], d2 = p[2 * t + 2], d3 = p[2 * t + 3];     \
            r0[t] = d0 - d2; r1[t] = d1 + d2; r2[t] = d2 - d1; r3[t] = d1 - d3;                     \
        }                                                                                           \
    }                                                                                               \
    for (int ty = 0; ty < th; ty++) {                                                               \
        for (int j = 0; j < 4; j++) {                                                               \
            const float *restrict s0 = rt + j * rs + (size_t)(2 * ty) * tw;                         \
            const float *restrict s1 = s0 + tw, *restrict s2 = s1 + tw, *restrict s3 = s2 + tw;     \
            float *restrict v0 = v + (size_t)j * xi_stride + (size_t)ty * tw;                       \
            float *restrict v1 = v0 + 4 * xi_stride, *restrict v2 = v1 + 4 * xi_stride, *restrict v3 = v2 + 4 * xi_stride; \
            for (int t = 0; t < tw; t++) {                                                          \
                v0[t] = s0[t] - s2[t]; v1[t] = s1[t] + s2[t]; v2[t] = s2[t] - s1[t]; v3[t] = s1[t] - s3[t]; \
            }                                                                                       \
        }                                                                                           \
    }                                                                                               \
    return 0;

/* The output tiles' scratch (pitch sw) → the strip's out_h × out_w planes, with bias and clamp. */
#define STORE_BIAS_CLAMP                                                                            \
    for (int n = 0; n < strip.planes; n++) {                                                        \
        for (int oy = 0; oy < out_h; oy++) {                                                        \
            const float *restrict src = scratch + (size_t)oy * sw + (size_t)n * strip.period;       \
            float *restrict dst = y + (size_t)n * strip.stride + (size_t)oy * out_w;                \
            for (int ox = 0; ox < out_w; ox++) {                                                    \
                float t = src[ox] + bias;                                                           \
                t = t < lo ? lo : t;                                                                \
                dst[ox] = t > hi ? hi : t;                                                          \
            }                                                                                       \
        }                                                                                           \
    }

/*
 * Output transform of one strip: Aᵀ M A down the columns, then along the rows into a
 * (2·th) × (2·tw) scratch, whose planes (out_h × out_w from column n·period) get the bias and clamp.
 */
#define OUTPUT_BODY                                                                                 \
    const int sw = 2 * tw;                                                                          \
    float *scratch = ck_thread_scratch((size_t)2 * th * sw + 8 * (size_t)tw);                       \
    if (!scratch) return -1;                                                                        \
    float *restrict s = scratch + (size_t)2 * th * sw;                                              \
    for (int ty = 0; ty < th; ty++) {                                                               \
        const float *restrict mt = mm + (size_t)ty * tw;                                            \
        for (int j = 0; j < 4; j++) {                                                               \
            const float *restrict m0 = mt + (size_t)j * xi_stride, *restrict m1 = m0 + 4 * xi_stride; \
            const float *restrict m2 = m1 + 4 * xi_stride, *restrict m3 = m2 + 4 * xi_stride;       \
            float *restrict a = s + (size_t)j * tw, *restrict b = s + (size_t)(4 + j) * tw;         \
            for (int t = 0; t < tw; t++) { a[t] = (m0[t] + m1[t]) + m2[t]; b[t] = (m1[t] - m2[t]) - m3[t]; } \
        }                                                                                           \
        for (int r = 0; r < 2; r++) {                                                               \
            const float *restrict q0 = s + (size_t)(4 * r) * tw, *restrict q1 = q0 + tw;            \
            const float *restrict q2 = q1 + tw, *restrict q3 = q2 + tw;                             \
            float *restrict row = scratch + (size_t)(2 * ty + r) * sw;                              \
            for (int t = 0; t < tw; t++) {                                                          \
                row[2 * t] = (q0[t] + q1[t]) + q2[t];                                               \
                row[2 * t + 1] = (q1[t] - q2[t]) - q3[t];                                           \
            }                                                                                       \
        }                                                                                           \
    }                                                                                               \
    STORE_BIAS_CLAMP                                                                                \
    return 0;

/* F(4×4, 3×3)'s input transform: as INPUT_BODY, with (4·th + 2) × (4·tw + 2) scratch and
 * Bᵀ's six rows (4d0 − 5d2 + d4; (d3 + d4) − 4(d1 + d2); (d4 − d3) + 4(d1 − d2);
 * (d4 − d2) ∓ 2(d1 − d3); 4d1 − 5d3 + d5). */
#define BT4(d0, d1, d2, d3, d4, d5, o0, o1, o2, o3, o4, o5)                                         \
    {                                                                                               \
        const float a12 = (d1) + (d2), s12 = (d1) - (d2), s13 = (d1) - (d3), s42 = (d4) - (d2);       \
        o0 = (4.0f * (d0) - 5.0f * (d2)) + (d4);                                                    \
        o1 = ((d3) + (d4)) - 4.0f * a12;                                                            \
        o2 = ((d4) - (d3)) + 4.0f * s12;                                                            \
        o3 = s42 - 2.0f * s13;                                                                      \
        o4 = s42 + 2.0f * s13;                                                                      \
        o5 = (4.0f * (d1) - 5.0f * (d3)) + (d5);                                                    \
    }

#define INPUT4_BODY                                                                                 \
    const int ph = 4 * th + 2, pw = 4 * tw + 2;                                                     \
    float *pad = ck_thread_scratch((size_t)ph * pw + 6 * (size_t)ph * tw);                          \
    if (!pad) return -1;                                                                            \
    float *restrict rt = pad + (size_t)ph * pw;                                                     \
    ck_pad_strip(x, h, w, pad_top, pad_left, ph, pw, (size_t)ph * pw, pad, strip);             \
    const size_t rs = (size_t)ph * tw;                                                              \
    for (int y = 0; y < ph; y++) {                                                                  \
        const float *restrict p = pad + (size_t)y * pw;                                             \
        float *restrict r0 = rt + (size_t)y * tw, *restrict r1 = r0 + rs, *restrict r2 = r1 + rs;   \
        float *restrict r3 = r2 + rs, *restrict r4 = r3 + rs, *restrict r5 = r4 + rs;               \
        for (int t = 0; t < tw; t++) {                                                              \
            const float *restrict d = p + 4 * t;                                                    \
            BT4(d[0], d[1], d[2], d[3], d[4], d[5], r0[t], r1[t], r2[t], r3[t], r4[t], r5[t])       \
        }                                                                                           \
    }                                                                                               \
    for (int ty = 0; ty < th; ty++) {                                                               \
        for (int j = 0; j < 6; j++) {                                                               \
            const float *restrict s0 = rt + j * rs + (size_t)(4 * ty) * tw;                         \
            const float *restrict s1 = s0 + tw, *restrict s2 = s1 + tw, *restrict s3 = s2 + tw;     \
            const float *restrict s4 = s3 + tw, *restrict s5 = s4 + tw;                             \
            float *restrict v0 = v + (size_t)j * xi_stride + (size_t)ty * tw;                       \
            float *restrict v1 = v0 + 6 * xi_stride, *restrict v2 = v1 + 6 * xi_stride;             \
            float *restrict v3 = v2 + 6 * xi_stride, *restrict v4 = v3 + 6 * xi_stride, *restrict v5 = v4 + 6 * xi_stride; \
            for (int t = 0; t < tw; t++) {                                                          \
                BT4(s0[t], s1[t], s2[t], s3[t], s4[t], s5[t], v0[t], v1[t], v2[t], v3[t], v4[t], v5[t]) \
            }                                                                                       \
        }                                                                                           \
    }                                                                                               \
    return 0;

/* F(4×4, 3×3)'s output transform, Aᵀ's four rows: m0 + (m1 + m2) + (m3 + m4);
 * (m1 − m2) + 2(m3 − m4); (m1 + m2) + 4(m3 + m4); (m1 − m2) + 8(m3 − m4) + m5. */
#define AT4(m0, m1, m2, m3, m4, m5, o0, o1, o2, o3)                                                 \
    {                                                                                               \
        const float a12 = (m1) + (m2), s12 = (m1) - (m2), a34 = (m3) + (m4), s34 = (m3) - (m4);       \
        o0 = ((m0) + a12) + a34;                                                                    \
        o1 = s12 + 2.0f * s34;                                                                      \
        o2 = a12 + 4.0f * a34;                                                                      \
        o3 = (s12 + 8.0f * s34) + (m5);                                                             \
    }

#define OUTPUT4_BODY                                                                                \
    const int sw = 4 * tw;                                                                          \
    float *scratch = ck_thread_scratch((size_t)4 * th * sw + 24 * (size_t)tw);                      \
    if (!scratch) return -1;                                                                        \
    float *restrict s = scratch + (size_t)4 * th * sw;                                              \
    for (int ty = 0; ty < th; ty++) {                                                               \
        const float *restrict mt = mm + (size_t)ty * tw;                                            \
        for (int j = 0; j < 6; j++) {                                                               \
            const float *restrict m0 = mt + (size_t)j * xi_stride, *restrict m1 = m0 + 6 * xi_stride; \
            const float *restrict m2 = m1 + 6 * xi_stride, *restrict m3 = m2 + 6 * xi_stride;       \
            const float *restrict m4 = m3 + 6 * xi_stride, *restrict m5 = m4 + 6 * xi_stride;       \
            float *restrict a = s + (size_t)j * tw, *restrict b = a + 6 * (size_t)tw;               \
            float *restrict c = b + 6 * (size_t)tw, *restrict d = c + 6 * (size_t)tw;               \
            for (int t = 0; t < tw; t++) { AT4(m0[t], m1[t], m2[t], m3[t], m4[t], m5[t], a[t], b[t], c[t], d[t]) } \
        }                                                                                           \
        for (int r = 0; r < 4; r++) {                                                               \
            const float *restrict q0 = s + (size_t)(6 * r) * tw, *restrict q1 = q0 + tw;            \
            const float *restrict q2 = q1 + tw, *restrict q3 = q2 + tw;                             \
            const float *restrict q4 = q3 + tw, *restrict q5 = q4 + tw;                             \
            float *restrict row = scratch + (size_t)(4 * ty + r) * sw;                              \
            for (int t = 0; t < tw; t++) {                                                          \
                AT4(q0[t], q1[t], q2[t], q3[t], q4[t], q5[t], row[4 * t], row[4 * t + 1], row[4 * t + 2], row[4 * t + 3]) \
            }                                                                                       \
        }                                                                                           \
    }                                                                                               \
    STORE_BIAS_CLAMP                                                                                \
    return 0;

#define DEFINE_WINOGRAD_VARIANTS(attribute, suffix)                                                 \
    attribute static int input_##suffix(const float *restrict x, int h, int w, int pad_top, int pad_left, \
                                        int th, int tw, float *restrict v, size_t xi_stride, ck_strip strip) { INPUT_BODY } \
    attribute static int output_##suffix(const float *restrict mm, size_t xi_stride, int th, int tw, float *restrict y, \
                                         int out_h, int out_w, float bias, float lo, float hi, ck_strip strip) { OUTPUT_BODY } \
    attribute static int input4_##suffix(const float *restrict x, int h, int w, int pad_top, int pad_left, \
                                         int th, int tw, float *restrict v, size_t xi_stride, ck_strip strip) { INPUT4_BODY } \
    attribute static int output4_##suffix(const float *restrict mm, size_t xi_stride, int th, int tw, float *restrict y, \
                                          int out_h, int out_w, float bias, float lo, float hi, ck_strip strip) { OUTPUT4_BODY }

#if CK_HAS_VARIANTS
DEFINE_WINOGRAD_VARIANTS(CK_AVX512, avx512)
DEFINE_WINOGRAD_VARIANTS(CK_AVX2, avx2)
#endif
DEFINE_WINOGRAD_VARIANTS(, baseline)

int ck_winograd_input(const float *x, int h, int w, int pad_top, int pad_left, int tile, int tiles_h, int tiles_w, float *v,
                      size_t xi_stride, ck_strip strip) {
    if (tile == 4) {
#if CK_HAS_VARIANTS
        if (ck_level() == 2) return ck_winograd4_input_avx512(x, h, w, pad_top, pad_left, tiles_h, tiles_w, v, xi_stride, strip);
#endif
        DISPATCH_RESULT(input4, x, h, w, pad_top, pad_left, tiles_h, tiles_w, v, xi_stride, strip)
    }
    DISPATCH_RESULT(input, x, h, w, pad_top, pad_left, tiles_h, tiles_w, v, xi_stride, strip)
}

int ck_winograd_output(const float *m, size_t xi_stride, int tile, int tiles_h, int tiles_w, float *y, int out_h, int out_w,
                       float bias, float lo, float hi, ck_strip strip) {
    if (tile == 4) {
#if CK_HAS_VARIANTS
        if (ck_level() == 2)
            return ck_winograd4_output_avx512(m, xi_stride, tiles_h, tiles_w, y, out_h, out_w, bias, lo, hi, strip);
#endif
        DISPATCH_RESULT(output4, m, xi_stride, tiles_h, tiles_w, y, out_h, out_w, bias, lo, hi, strip)
    }
    DISPATCH_RESULT(output, m, xi_stride, tiles_h, tiles_w, y, out_h, out_w, bias, lo, hi, strip)
}
