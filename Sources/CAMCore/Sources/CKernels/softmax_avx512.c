#include "dispatch.h"
#include "softmax_avx512.h"
#include "lanes.h"

/*
 * Softmax of contiguous rows, by hand for AVX-512: the compiler's vectorisation of the
 * portable kernel (kernels.c) left each row's last n mod 16 values to scalar code, and an
 * attention row of 197 scores spent about as long in its 5 scalar exps as in its 12 vectors.
 * Here only the last vector of a row is masked. The exp is the portable one's method
 * (ck_exp_value: the same range reduction, underflow bound and Cephes polynomial) in fused
 * multiply-adds, rounded to nearest and scaled by 2^n with scalef: half the time of the
 * compiler's vectorisation, which keeps multiplies and adds apart (-ffp-contract=off), and
 * within the same 2 ulp of expf, though not rounded alike. The sum adds the last vector's
 * values in its lanes rather than one after another.
 *
 * Each value is first multiplied by `scale` (1 for ck_softmax_rows: exact): attention
 * (attention.c) passes the scores unscaled and its alpha here, so a score is rounded once as
 * alpha · (q·k), as BLAS rounds it when it applies alpha, and not twice. Each value is read and
 * written at the same index before the next is, so out may be x.
 */

#if CK_HAS_VARIANTS
#include <immintrin.h>

/* ck_exp_value (kernels.c) on 16 lanes, for the x ≤ 0 (or NaN) a softmax takes (each value
   less its row's maximum): its constants and method in fused multiply-adds. Its clamps go: no
   x exceeds 88.3; an x below −87.3 (−∞ included) gives 0 through the underflow mask; a NaN
   passes through every step, so no separate blend keeps it. */
CK_AVX512 static inline __m512 exp16(__m512 x) {
    const __mmask16 underflow = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.3f), _CMP_LT_OQ);
    /* n = x·log2(e) rounded to nearest (ties to even; the portable kernel rounds them away
       from zero, which changes which of two equally good reductions is taken). */
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
    return _mm512_maskz_scalef_ps((__mmask16)~underflow, p, n);
}

/* Rows in flight at once. A row's maximum, its sum and the reciprocal are each a chain of
   dependent instructions (13 vectors of a 197-score row: about 130 cycles of waiting per row);
   four rows side by side wait once for all four. Each row's values are computed as alone. */
enum { GROUP = 4 };

/* Rows 0 ..< g (g ≤ GROUP, a constant where this is inlined) of x into out, n values each. */
CK_AVX512 __attribute__((always_inline)) static inline void softmax_group(const float *x, float *out, size_t n, int g, __m512 factor) {
    const size_t whole = n / 16 * 16;
    const __mmask16 tail = ck_first_lanes((long)(n - whole));
    __m512 vmax[GROUP], vsum[GROUP], m[GROUP];
    /* The maximum, NaN passed over as the portable kernel passes over it (max returns its
       second operand then); the exps then make the row NaN. */
#pragma clang loop unroll(full)
    for (int r = 0; r < g; r++) vmax[r] = _mm512_set1_ps(-__builtin_inff());
    for (size_t j = 0; j < whole; j += 16)
#pragma clang loop unroll(full)
        for (int r = 0; r < g; r++) vmax[r] = _mm512_max_ps(_mm512_mul_ps(_mm512_loadu_ps(x + r * n + j), factor), vmax[r]);
#pragma clang loop unroll(full)
    for (int r = 0; r < g; r++) {
        if (tail) vmax[r] = _mm512_mask_max_ps(vmax[r], tail, _mm512_mul_ps(_mm512_maskz_loadu_ps(tail, x + r * n + whole), factor), vmax[r]);
        m[r] = _mm512_set1_ps(_mm512_reduce_max_ps(vmax[r]));
        vsum[r] = _mm512_setzero_ps();
    }
    for (size_t j = 0; j < whole; j += 16)
#pragma clang loop unroll(full)
        for (int r = 0; r < g; r++) {
            const __m512 e = exp16(_mm512_sub_ps(_mm512_mul_ps(_mm512_loadu_ps(x + r * n + j), factor), m[r]));
            _mm512_storeu_ps(out + r * n + j, e);
            vsum[r] = _mm512_add_ps(vsum[r], e);
        }
#pragma clang loop unroll(full)
    for (int r = 0; r < g; r++) {
        if (tail) {
            const __m512 e = exp16(_mm512_sub_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(tail, x + r * n + whole), factor), m[r]));
            _mm512_mask_storeu_ps(out + r * n + whole, tail, e);
            vsum[r] = _mm512_mask_add_ps(vsum[r], tail, vsum[r], e);
        }
        /* The reciprocal, reused as a sum until the scaling pass. */
        vsum[r] = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(vsum[r]));
    }
    for (size_t j = 0; j < whole; j += 16)
#pragma clang loop unroll(full)
        for (int r = 0; r < g; r++) _mm512_storeu_ps(out + r * n + j, _mm512_mul_ps(_mm512_loadu_ps(out + r * n + j), vsum[r]));
    if (tail)
#pragma clang loop unroll(full)
        for (int r = 0; r < g; r++)
            _mm512_mask_storeu_ps(out + r * n + whole, tail, _mm512_mul_ps(_mm512_maskz_loadu_ps(tail, out + r * n + whole), vsum[r]));
}

CK_AVX512 void ck_softmax_rows_avx512(const float *x, float *out, size_t rows, size_t n, float scale) {
    const __m512 factor = _mm512_set1_ps(scale);
    size_t row = 0;
    for (; row + GROUP <= rows; row += GROUP) softmax_group(x + row * n, out + row * n, n, GROUP, factor);
    for (; row < rows; row++) softmax_group(x + row * n, out + row * n, n, 1, factor);
}
#endif
