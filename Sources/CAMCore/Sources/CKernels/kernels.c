#include "CKernels.h"
#include "dispatch.h"
#include "depthwise_avx512.h"
#include "softmax_avx512.h"
#include "gelu_avx512.h"
#include "scratch.h"
#include <stdlib.h>
#include <string.h>

/*
 * Each kernel body is compiled three times — for AVX-512, for AVX2 and for the x86-64
 * baseline — and a dispatcher picks one on first use with __builtin_cpu_supports. (Not
 * `target_clones`: its IFUNC resolvers run before the CPU model is initialised when the
 * library is loaded as a dependency, and resolved to null here.)
 */

/*
 * Depthwise convolution through a padded copy of the plane. The input is copied once into a
 * zero-bordered scratch plane, its columns split into `stride_w` phases (phase r holds the
 * columns x ≡ r mod stride_w), so that every tap reads a contiguous run with no bounds checks.
 * With stride_h = 1 the rows are flattened: each tap is one long vector loop over the whole
 * output (computed at the scratch's row pitch, the extra columns dropped at the end); otherwise
 * each output row is one loop per tap. Taps are summed in (ky, kx) order, as a direct loop does.
 */
typedef struct {
    int wp, hp, wq;     /* padded width and height; width of one column phase */
    size_t phase_size;  /* hp · wq */
} ck_padded;

static inline ck_padded ck_padded_geometry(const ck_window *g) {
    ck_padded p;
    p.wp = (g->out_width - 1) * g->stride_w + (g->kernel_w - 1) * g->dilation_w + 1;
    p.hp = (g->out_height - 1) * g->stride_h + (g->kernel_h - 1) * g->dilation_h + 1;
    p.wq = (p.wp + g->stride_w - 1) / g->stride_w;
    p.phase_size = (size_t)p.hp * p.wq;
    return p;
}

/* The padded columns [lo, hi) that hold input columns (the rest are zero padding). */
static inline void ck_inside_columns(const ck_window *g, const ck_padded *p, int *lo, int *hi) {
    *lo = g->pad_left < p->wp ? g->pad_left : p->wp;
    *hi = g->pad_left + g->width < p->wp ? g->pad_left + g->width : p->wp;
    if (*hi < *lo) *hi = *lo;
}

/* scratch[phase][y][j] = x[y − pad_top][j·sw + phase − pad_left], zero outside the plane. */
static inline void ck_pad_plane(const float *x, const ck_window *g, const ck_padded *p, float *scratch) {
    const int sw = g->stride_w;
    int lo, hi;
    ck_inside_columns(g, p, &lo, &hi);
    memset(scratch, 0, sizeof(float) * p->phase_size * sw);
    for (int y = 0; y < p->hp; y++) {
        const int iy = y - g->pad_top;
        if (iy < 0 || iy >= g->height) continue;
        const float *row = x + (size_t)iy * g->width - g->pad_left;  /* row[xp] for xp in [lo, hi) */
        if (sw == 2) {
            /* The common stride 2 as a de-interleaving loop over column pairs (vectorised), the
               unpaired first and last columns apart. */
            float *d0 = scratch + (size_t)y * p->wq, *d1 = d0 + p->phase_size;
            const int j0 = (lo + 1) / 2, j1 = hi / 2;  /* pairs (2j, 2j+1) inside [lo, hi) */
            for (int j = j0; j < j1; j++) { d0[j] = row[2 * j]; d1[j] = row[2 * j + 1]; }
            if (lo % 2 == 1 && lo < hi) d1[lo / 2] = row[lo];
            if (hi % 2 == 1 && hi - 1 >= lo && hi - 1 >= 2 * j1) d0[(hi - 1) / 2] = row[hi - 1];
            continue;
        }
        for (int r = 0; r < sw; r++) {
            float *d = scratch + (size_t)r * p->phase_size + (size_t)y * p->wq;
            const int start = lo + ((r - lo % sw) + sw) % sw;
            if (sw == 1) { memcpy(d + lo, row + lo, sizeof(float) * (size_t)(hi - lo)); continue; }
            for (int xp = start, j = start / sw; xp < hi; xp += sw, j++) d[j] = row[xp];
        }
    }
}

/* gin[iy][ix] += scratch at the padded position of (iy, ix): the inverse of ck_pad_plane. */
static inline void ck_unpad_add(const float *scratch, const ck_window *g, const ck_padded *p, float *gin) {
    const int sw = g->stride_w;
    int lo, hi;
    ck_inside_columns(g, p, &lo, &hi);
    for (int y = 0; y < p->hp; y++) {
        const int iy = y - g->pad_top;
        if (iy < 0 || iy >= g->height) continue;
        float *row = gin + (size_t)iy * g->width - g->pad_left;
        for (int r = 0; r < sw; r++) {
            const float *d = scratch + (size_t)r * p->phase_size + (size_t)y * p->wq;
            const int start = lo + ((r - lo % sw) + sw) % sw;
            for (int xp = start, j = start / sw; xp < hi; xp += sw, j++) row[xp] += d[j];
        }
    }
}

#define DEPTHWISE_BLOCK 64

/* Each block of DEPTHWISE_BLOCK outputs sums all its taps while the block is in L1, then gets
   the bias and clamp on the way out; with stride_h = 1 the blocks run over the flattened
   output at the scratch's pitch, whose extra columns are dropped when copying out. */
#define DEPTHWISE_BODY                                                                              \
    const int oh = g->out_height, ow = g->out_width, sh = g->stride_h, sw = g->stride_w;           \
    const ck_padded p = ck_padded_geometry(g);                                                      \
    const size_t flat = sh == 1 ? (size_t)oh * p.wq : 0;                                            \
    float *scratch = ck_thread_scratch(p.phase_size * sw + flat);                                   \
    if (!scratch) return -1;                                                                        \
    float *restrict flat_out = scratch + p.phase_size * sw;                                         \
    ck_pad_plane(x, g, &p, scratch);                                                                \
    const int rows = sh == 1 ? 1 : oh;                                                              \
    const size_t len = sh == 1 ? (size_t)(oh - 1) * p.wq + ow : (size_t)ow;                        \
    for (int r = 0; r < rows; r++) {                                                                \
        float *restrict dst = sh == 1 ? flat_out : out + (size_t)r * ow;                            \
        for (size_t j0 = 0; j0 < len; j0 += DEPTHWISE_BLOCK) {                                      \
            const size_t n = len - j0 < DEPTHWISE_BLOCK ? len - j0 : DEPTHWISE_BLOCK;               \
            float acc[DEPTHWISE_BLOCK];                                                             \
            for (size_t j = 0; j < n; j++) acc[j] = 0;                                              \
            for (int ky = 0; ky < g->kernel_h; ky++) {                                              \
                for (int kx = 0; kx < g->kernel_w; kx++) {                                          \
                    const float wv = weights[ky * g->kernel_w + kx];                                \
                    const int cx = kx * g->dilation_w;                                              \
                    const float *restrict src = scratch + (size_t)(cx % sw) * p.phase_size         \
                        + (size_t)(r * sh + ky * g->dilation_h) * p.wq + cx / sw + j0;              \
                    for (size_t j = 0; j < n; j++) acc[j] += wv * src[j];                           \
                }                                                                                   \
            }                                                                                       \
            for (size_t j = 0; j < n; j++) {                                                        \
                float t = acc[j] + bias;                                                            \
                t = t < lo ? lo : t;                                                                \
                dst[j0 + j] = t > hi ? hi : t;                                                      \
            }                                                                                       \
        }                                                                                           \
    }                                                                                               \
    if (sh == 1) {                                                                                  \
        for (int oy = 0; oy < oh; oy++)                                                             \
            memcpy(out + (size_t)oy * ow, flat_out + (size_t)oy * p.wq, sizeof(float) * (size_t)ow); \
    }                                                                                               \
    return 0;

/* The transpose: gout (at the scratch's pitch) scattered through the taps into the padded
   scratch, whose inside is then added to gin. */
#define DEPTHWISE_T_BODY                                                                            \
    const int oh = g->out_height, ow = g->out_width, sh = g->stride_h, sw = g->stride_w;           \
    const ck_padded p = ck_padded_geometry(g);                                                      \
    const size_t flat = sh == 1 ? (size_t)oh * p.wq : 0;                                           \
    float *scratch = ck_thread_scratch(p.phase_size * sw + flat);                                   \
    if (!scratch) return;                                                                           \
    memset(scratch, 0, sizeof(float) * (p.phase_size * sw + flat));                                \
    float *restrict spread = scratch + p.phase_size * sw;                                           \
    if (sh == 1) {                                                                                  \
        for (int oy = 0; oy < oh; oy++)                                                             \
            for (int ox = 0; ox < ow; ox++) spread[(size_t)oy * p.wq + ox] = gout[(size_t)oy * ow + ox]; \
    }                                                                                               \
    const int rows = sh == 1 ? 1 : oh;                                                              \
    const size_t len = sh == 1 ? (size_t)(oh - 1) * p.wq + ow : (size_t)ow;                        \
    for (int ky = 0; ky < g->kernel_h; ky++) {                                                      \
        for (int kx = 0; kx < g->kernel_w; kx++) {                                                  \
            const float wv = weights[ky * g->kernel_w + kx];                                        \
            const int cx = kx * g->dilation_w;                                                      \
            for (int r = 0; r < rows; r++) {                                                        \
                const float *restrict src = sh == 1 ? spread : gout + (size_t)r * ow;              \
                float *restrict dst = scratch + (size_t)(cx % sw) * p.phase_size                   \
                    + (size_t)(r * sh + ky * g->dilation_h) * p.wq + cx / sw;                       \
                for (size_t j = 0; j < len; j++) dst[j] += wv * src[j];                             \
            }                                                                                       \
        }                                                                                           \
    }                                                                                               \
    ck_unpad_add(scratch, g, &p, gin);

#define BIAS_CLAMP_BODY                                                                             \
    for (size_t i = 0; i < n; i++) {                                                                \
        float t = v[i] + bias;                                                                      \
        t = t < lo ? lo : t;                                                                        \
        v[i] = t > hi ? hi : t;                                                                     \
    }

#define BIAS_BODY for (size_t i = 0; i < n; i++) v[i] += bias;

/* (v + bias) + r, rounded as the separate Add would, then the clamp. */
#define BIAS_RESIDUAL_CLAMP_BODY                                                                    \
    for (size_t i = 0; i < n; i++) {                                                                \
        float t = (v[i] + bias) + r[i];                                                             \
        t = t < lo ? lo : t;                                                                        \
        v[i] = t > hi ? hi : t;                                                                     \
    }

/* One loop per (operation, broadcast pattern), so that each vectorises. */
#define BINARY_LOOPS(OP)                                                                            \
    if (a_step && b_step) { for (size_t i = 0; i < n; i++) out[i] = a[i] OP b[i]; }                 \
    else if (a_step) { const float y = b[0]; for (size_t i = 0; i < n; i++) out[i] = a[i] OP y; }   \
    else if (b_step) { const float x = a[0]; for (size_t i = 0; i < n; i++) out[i] = x OP b[i]; }   \
    else { const float v = a[0] OP b[0]; for (size_t i = 0; i < n; i++) out[i] = v; }

#define BINARY_BODY                                                                                 \
    switch (op) {                                                                                   \
    case CK_ADD: BINARY_LOOPS(+) break;                                                             \
    case CK_SUB: BINARY_LOOPS(-) break;                                                             \
    case CK_MUL: BINARY_LOOPS(*) break;                                                             \
    case CK_DIV: BINARY_LOOPS(/) break;                                                             \
    }

/* erf(x) ≈ x·P(x²)/Q(x²) for |x| ≤ 4 (the rational form XLA and Eigen use for float). */
static inline float ck_erf_value(float x) {
    x = x < -4.0f ? -4.0f : (x > 4.0f ? 4.0f : x);
    const float x2 = x * x;
    float p = -2.72614225801306e-10f;
    p = p * x2 + 2.77068142495902e-08f;
    p = p * x2 - 2.10102402082508e-06f;
    p = p * x2 - 5.69250639462346e-05f;
    p = p * x2 - 7.34990630326855e-04f;
    p = p * x2 - 2.95459980854025e-03f;
    p = p * x2 - 1.60960333262415e-02f;
    float q = -1.45660718464996e-05f;
    q = q * x2 - 2.13374055278905e-04f;
    q = q * x2 - 1.68282697438203e-03f;
    q = q * x2 - 7.37332916720468e-03f;
    q = q * x2 - 1.42647390514189e-02f;
    return x * p / q;
}

/* exp(x) for float, vectorisable: x = n·ln2 + r with |r| ≤ ln2/2, exp(r) by Cephes' degree-6
   polynomial, 2^n put in the exponent bits; within 2 ulp of expf. Arguments below −87.3, whose
   exp is at most 1.2e-38, give 0 — never a subnormal, which would make every product it enters
   (attention weights times values) dozens of times slower; above 88.3 give exp(88.3); NaN stays
   NaN. */
static inline float ck_exp_value(float x) {
    const int nan = x != x;
    const int underflow = x < -87.3f;
    x = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x);
    float n = x * 1.44269504088896341f;
    n = n < 0 ? n - 0.5f : n + 0.5f;
    n = nan ? 0.0f : (float)(int)n;                  /* round half away from zero */
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    union { unsigned u; float f; } scale = { (unsigned)((int)n + 127) << 23 };
    return nan ? x : (underflow ? 0.0f : p * scale.f);
}

/* Softmax of each contiguous row: the maximum and the sum in 16 lanes (so that they vectorise
   without reassociating a single chain), one exp per element kept in the output, then the
   scale. A NaN anywhere in a row makes the whole row NaN. */
#define SOFTMAX_LANES 16
#define SOFTMAX_BODY                                                                                \
    for (size_t row = 0; row < rows; row++) {                                                       \
        const float *restrict in = x + row * n;                                                     \
        float *restrict dst = out + row * n;                                                        \
        float lanes[SOFTMAX_LANES];                                                                 \
        for (int l = 0; l < SOFTMAX_LANES; l++) lanes[l] = -__builtin_inff();                       \
        size_t j = 0;                                                                               \
        for (; j + SOFTMAX_LANES <= n; j += SOFTMAX_LANES)                                          \
            for (int l = 0; l < SOFTMAX_LANES; l++) lanes[l] = in[j + l] > lanes[l] ? in[j + l] : lanes[l]; \
        float m = -__builtin_inff();                                                                \
        for (int l = 0; l < SOFTMAX_LANES; l++) m = lanes[l] > m ? lanes[l] : m;                    \
        for (; j < n; j++) m = in[j] > m ? in[j] : m;                                               \
        for (size_t i = 0; i < n; i++) dst[i] = ck_exp_value(in[i] - m);                           \
        for (int l = 0; l < SOFTMAX_LANES; l++) lanes[l] = 0;                                       \
        for (j = 0; j + SOFTMAX_LANES <= n; j += SOFTMAX_LANES)                                     \
            for (int l = 0; l < SOFTMAX_LANES; l++) lanes[l] += dst[j + l];                         \
        float sum = 0;                                                                              \
        for (int l = 0; l < SOFTMAX_LANES; l++) sum += lanes[l];                                    \
        for (; j < n; j++) sum += dst[j];                                                           \
        const float scale = 1.0f / sum;                                                             \
        for (size_t i = 0; i < n; i++) dst[i] *= scale;                                             \
    }

/* Mean and variance summed in SOFTMAX_LANES independent lanes, so that the sums vectorise. */
/* Rows row ..< row + G side by side. Each row's statistics end in chains of dependent
   additions (its lanes' totals are added in order, then divided, then a square root), so a
   row alone mostly waits; G rows wait together (DeiT-tiny's 192-wide rows: 2.1× faster with
   4). Each row's values are computed exactly as alone. */
#define LAYERNORM_GROUP 4
#define LAYERNORM_ROWS(G)                                                                           \
    {                                                                                               \
        const float *restrict in = x + row * n;                                                     \
        float *restrict dst = out + row * n;                                                        \
        float lanes[G][SOFTMAX_LANES], mu[G], r[G];                                                 \
        for (int g = 0; g < G; g++)                                                                 \
            for (int l = 0; l < SOFTMAX_LANES; l++) lanes[g][l] = 0;                                \
        size_t j = 0;                                                                               \
        for (; j + SOFTMAX_LANES <= n; j += SOFTMAX_LANES)                                          \
            for (int g = 0; g < G; g++)                                                             \
                for (int l = 0; l < SOFTMAX_LANES; l++) lanes[g][l] += in[g * n + j + l];           \
        for (int g = 0; g < G; g++) {                                                               \
            float sum = 0;                                                                          \
            for (int l = 0; l < SOFTMAX_LANES; l++) sum += lanes[g][l];                             \
            for (size_t t = j; t < n; t++) sum += in[g * n + t];                                    \
            mu[g] = sum / (float)n;                                                                 \
            for (int l = 0; l < SOFTMAX_LANES; l++) lanes[g][l] = 0;                                \
        }                                                                                           \
        for (j = 0; j + SOFTMAX_LANES <= n; j += SOFTMAX_LANES)                                     \
            for (int g = 0; g < G; g++)                                                             \
                for (int l = 0; l < SOFTMAX_LANES; l++) {                                           \
                    const float d = in[g * n + j + l] - mu[g];                                      \
                    lanes[g][l] += d * d;                                                           \
                }                                                                                   \
        for (int g = 0; g < G; g++) {                                                               \
            float squares = 0;                                                                      \
            for (int l = 0; l < SOFTMAX_LANES; l++) squares += lanes[g][l];                         \
            for (size_t t = j; t < n; t++) { const float d = in[g * n + t] - mu[g]; squares += d * d; } \
            r[g] = 1.0f / __builtin_sqrtf(squares / (float)n + eps);                                \
            mean[row + g] = mu[g];                                                                  \
            inv_std[row + g] = r[g];                                                                \
        }                                                                                           \
        for (int g = 0; g < G; g++) {                                                               \
            const float *restrict a = in + g * n;                                                   \
            float *restrict y = dst + g * n;                                                        \
            if (beta) { for (size_t i = 0; i < n; i++) y[i] = (a[i] - mu[g]) * r[g] * gamma[i] + beta[i]; } \
            else { for (size_t i = 0; i < n; i++) y[i] = (a[i] - mu[g]) * r[g] * gamma[i]; }       \
        }                                                                                           \
    }
#define LAYERNORM_BODY                                                                              \
    size_t row = 0;                                                                                 \
    for (; row + LAYERNORM_GROUP <= rows; row += LAYERNORM_GROUP) LAYERNORM_ROWS(LAYERNORM_GROUP)   \
    for (; row < rows; row++) LAYERNORM_ROWS(1)

#define ERF_BODY for (size_t i = 0; i < n; i++) out[i] = ck_erf_value(x[i]);
#define GELU_BODY for (size_t i = 0; i < n; i++) out[i] = 0.5f * x[i] * (1.0f + ck_erf_value(x[i] * 0.70710678118654752f));

#define DEFINE_VARIANTS(attribute, suffix)                                                          \
    attribute static int depthwise_##suffix(const float *restrict x, const float *restrict weights, \
                                            const ck_window *g, float *restrict out, float bias, float lo, float hi) { DEPTHWISE_BODY } \
    attribute static void depthwise_t_##suffix(const float *restrict gout, const float *restrict weights, \
                                               const ck_window *g, float *restrict gin) { DEPTHWISE_T_BODY } \
    attribute static void bias_clamp_##suffix(float *restrict v, size_t n, float bias, float lo, float hi) { BIAS_CLAMP_BODY } \
    attribute static void bias_##suffix(float *restrict v, size_t n, float bias) { BIAS_BODY }      \
    attribute static void bias_residual_clamp_##suffix(float *restrict v, const float *restrict r, size_t n, float bias, \
                                                       float lo, float hi) { BIAS_RESIDUAL_CLAMP_BODY } \
    attribute static void erf_##suffix(const float *restrict x, float *restrict out, size_t n) { ERF_BODY } \
    attribute static void softmax_##suffix(const float *restrict x, float *restrict out, size_t rows, size_t n) { SOFTMAX_BODY } \
    attribute static void gelu_##suffix(const float *restrict x, float *restrict out, size_t n) { GELU_BODY } \
    attribute static void layernorm_##suffix(const float *restrict x, const float *restrict gamma, const float *restrict beta, \
                                             float *restrict out, float *restrict mean, float *restrict inv_std, \
                                             size_t rows, size_t n, float eps) { LAYERNORM_BODY } \
    attribute static void binary_##suffix(ck_arithmetic op, const float *restrict a, int a_step,     \
                                          const float *restrict b, int b_step, float *restrict out, size_t n) { BINARY_BODY }

#if CK_HAS_VARIANTS
DEFINE_VARIANTS(CK_AVX512, avx512)
DEFINE_VARIANTS(CK_AVX2, avx2)
#endif
DEFINE_VARIANTS(, baseline)

/* 2: AVX-512, 1: AVX2, 0: baseline. */
int ck_level(void) {
    static int cached = -1;
    int level = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (level < 0) {
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw")
            && __builtin_cpu_supports("avx512dq")) level = 2;
        else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) level = 1;
        else level = 0;
#else
        level = 0;
#endif
        /* SWIFTCAM_KERNELS=baseline|avx2 lowers the choice (to test what other CPUs compute). */
        const char *forced = getenv("SWIFTCAM_KERNELS");
        if (forced && strcmp(forced, "baseline") == 0) level = 0;
        else if (forced && strcmp(forced, "avx2") == 0 && level > 1) level = 1;
        __atomic_store_n(&cached, level, __ATOMIC_RELAXED);  /* every thread computes the same value */
    }
    return level;
}

int ck_depthwise_plane(const float *x, const float *weights, const ck_window *g, float *out, float bias, float lo, float hi) {
#if CK_HAS_VARIANTS
    if (ck_level() == 2 && ck_depthwise_direct_applies(g)) {
        ck_depthwise_direct_avx512(x, weights, g, out, bias, lo, hi);
        return 0;
    }
#endif
    DISPATCH_RESULT(depthwise, x, weights, g, out, bias, lo, hi)
}
void ck_depthwise_plane_transposed(const float *gout, const float *weights, const ck_window *g, float *gin) { DISPATCH(depthwise_t, gout, weights, g, gin) }
void ck_bias_clamp(float *v, size_t n, float bias, float lo, float hi) { DISPATCH(bias_clamp, v, n, bias, lo, hi) }
void ck_bias(float *v, size_t n, float bias) { DISPATCH(bias, v, n, bias) }
void ck_bias_residual_clamp(float *v, const float *r, size_t n, float bias, float lo, float hi) {
    DISPATCH(bias_residual_clamp, v, r, n, bias, lo, hi)
}
void ck_erf(const float *x, float *out, size_t n) { DISPATCH(erf, x, out, n) }
void ck_gelu(const float *x, float *out, size_t n) {
#if CK_HAS_VARIANTS
    if (ck_level() == 2) {
        ck_gelu_avx512(x, out, n);
        return;
    }
#endif
    DISPATCH(gelu, x, out, n)
}
void ck_softmax_rows(const float *x, float *out, size_t rows, size_t n) {
#if CK_HAS_VARIANTS
    if (ck_level() == 2) {
        ck_softmax_rows_avx512(x, out, rows, n, 1.0f);
        return;
    }
#endif
    DISPATCH(softmax, x, out, rows, n)
}
void ck_layernorm_rows(const float *x, const float *gamma, const float *beta, float *out, float *mean, float *inv_std,
                       size_t rows, size_t n, float eps) {
    DISPATCH(layernorm, x, gamma, beta, out, mean, inv_std, rows, n, eps)
}
void ck_binary(ck_arithmetic op, const float *a, int a_step, const float *b, int b_step, float *out, size_t n) {
    DISPATCH(binary, op, a, a_step, b, b_step, out, n)
}
