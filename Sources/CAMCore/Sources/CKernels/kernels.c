#include "CKernels.h"

/*
 * Each kernel body is compiled three times — for AVX-512, for AVX2 and for the x86-64
 * baseline — and a dispatcher picks one on first use with __builtin_cpu_supports. (Not
 * `target_clones`: its IFUNC resolvers run before the CPU model is initialised when the
 * library is loaded as a dependency, and resolved to null here.)
 */

/* The output columns [lo, hi) whose input column ox·sw + offset lies inside [0, width). */
static inline void ck_columns(const ck_window *g, int offset, int *lo, int *hi) {
    int a = 0, b = g->out_width;
    while (a < b && a * g->stride_w + offset < 0) a++;
    while (b > a && (b - 1) * g->stride_w + offset >= g->width) b--;
    *lo = a;
    *hi = b;
}

#define DEPTHWISE_BODY                                                                              \
    const int ow = g->out_width, sw = g->stride_w;                                                  \
    for (int ky = 0; ky < g->kernel_h; ky++) {                                                      \
        for (int kx = 0; kx < g->kernel_w; kx++) {                                                  \
            const float wv = weights[ky * g->kernel_w + kx];                                        \
            const int offset = kx * g->dilation_w - g->pad_left;                                    \
            int lo, hi;                                                                             \
            ck_columns(g, offset, &lo, &hi);                                                        \
            for (int oy = 0; oy < g->out_height; oy++) {                                            \
                const int iy = oy * g->stride_h - g->pad_top + ky * g->dilation_h;                  \
                if (iy < 0 || iy >= g->height) continue;                                            \
                const float *restrict src = x + (size_t)iy * g->width + offset;                     \
                float *restrict dst = out + (size_t)oy * ow;                                        \
                if (sw == 1) {                                                                      \
                    for (int ox = lo; ox < hi; ox++) dst[ox] += wv * src[ox];                       \
                } else if (sw == 2) {                                                               \
                    for (int ox = lo; ox < hi; ox++) dst[ox] += wv * src[2 * ox];                   \
                } else {                                                                            \
                    for (int ox = lo; ox < hi; ox++) dst[ox] += wv * src[ox * sw];                  \
                }                                                                                   \
            }                                                                                       \
        }                                                                                           \
    }

#define DEPTHWISE_T_BODY                                                                            \
    const int ow = g->out_width, sw = g->stride_w;                                                  \
    for (int ky = 0; ky < g->kernel_h; ky++) {                                                      \
        for (int kx = 0; kx < g->kernel_w; kx++) {                                                  \
            const float wv = weights[ky * g->kernel_w + kx];                                        \
            const int offset = kx * g->dilation_w - g->pad_left;                                    \
            int lo, hi;                                                                             \
            ck_columns(g, offset, &lo, &hi);                                                        \
            for (int oy = 0; oy < g->out_height; oy++) {                                            \
                const int iy = oy * g->stride_h - g->pad_top + ky * g->dilation_h;                  \
                if (iy < 0 || iy >= g->height) continue;                                            \
                float *restrict dst = gin + (size_t)iy * g->width + offset;                         \
                const float *restrict src = gout + (size_t)oy * ow;                                 \
                if (sw == 1) {                                                                      \
                    for (int ox = lo; ox < hi; ox++) dst[ox] += wv * src[ox];                       \
                } else {                                                                            \
                    for (int ox = lo; ox < hi; ox++) dst[ox * sw] += wv * src[ox];                  \
                }                                                                                   \
            }                                                                                       \
        }                                                                                           \
    }

#define BIAS_CLAMP_BODY                                                                             \
    for (size_t i = 0; i < n; i++) {                                                                \
        float t = v[i] + bias;                                                                      \
        t = t < lo ? lo : t;                                                                        \
        v[i] = t > hi ? hi : t;                                                                     \
    }

#define BIAS_BODY for (size_t i = 0; i < n; i++) v[i] += bias;

#define DEFINE_VARIANTS(attribute, suffix)                                                          \
    attribute static void depthwise_##suffix(const float *restrict x, const float *restrict weights, \
                                             const ck_window *g, float *restrict out) { DEPTHWISE_BODY } \
    attribute static void depthwise_t_##suffix(const float *restrict gout, const float *restrict weights, \
                                               const ck_window *g, float *restrict gin) { DEPTHWISE_T_BODY } \
    attribute static void bias_clamp_##suffix(float *restrict v, size_t n, float bias, float lo, float hi) { BIAS_CLAMP_BODY } \
    attribute static void bias_##suffix(float *restrict v, size_t n, float bias) { BIAS_BODY }

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
DEFINE_VARIANTS(__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma"))), avx512)
DEFINE_VARIANTS(__attribute__((target("avx2,fma"))), avx2)
#endif
DEFINE_VARIANTS(, baseline)

/* 2: AVX-512, 1: AVX2, 0: baseline. */
static int ck_level(void) {
    static int level = -1;
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
    }
    return level;
}

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#define DISPATCH(name, ...)                                                                         \
    switch (ck_level()) {                                                                           \
    case 2: name##_avx512(__VA_ARGS__); return;                                                     \
    case 1: name##_avx2(__VA_ARGS__); return;                                                       \
    default: name##_baseline(__VA_ARGS__); return;                                                  \
    }
#else
#define DISPATCH(name, ...) name##_baseline(__VA_ARGS__);
#endif

void ck_depthwise_plane(const float *x, const float *weights, const ck_window *g, float *out) { DISPATCH(depthwise, x, weights, g, out) }
void ck_depthwise_plane_transposed(const float *gout, const float *weights, const ck_window *g, float *gin) { DISPATCH(depthwise_t, gout, weights, g, gin) }
void ck_bias_clamp(float *v, size_t n, float bias, float lo, float hi) { DISPATCH(bias_clamp, v, n, bias, lo, hi) }
void ck_bias(float *v, size_t n, float bias) { DISPATCH(bias, v, n, bias) }
