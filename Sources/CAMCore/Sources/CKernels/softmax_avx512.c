#include "dispatch.h"
#include "softmax_avx512.h"
#include "lanes.h"

/*
 * Softmax of contiguous rows, by hand for AVX-512: the compiler's vectorisation of the
 * portable kernel (kernels.c) left each row's last n mod 16 values to scalar code, and an
 * attention row of 197 scores spent about as long in its 5 scalar exps as in its 12 vectors.
 * Here the last vector is masked. The exp is the portable one, ck_exp_value, lane for lane;
 * the sum adds the last vector's values in its lanes rather than one after another, so it may
 * round differently in the last place.
 */

#if CK_HAS_VARIANTS
#include <immintrin.h>

/* ck_exp_value (kernels.c) on 16 lanes, with the same constants and operations: multiplies
   and adds kept apart, as the C kernels are compiled (-ffp-contract=off), so it rounds alike. */
CK_AVX512 static inline __m512 exp16(__m512 x) {
    const __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
    const __mmask16 underflow = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.3f), _CMP_LT_OQ);
    const __m512 clamped = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.3f)), _mm512_set1_ps(88.3f));
    __m512 n = _mm512_mul_ps(clamped, _mm512_set1_ps(1.44269504088896341f));
    const __mmask16 negative = _mm512_cmp_ps_mask(n, _mm512_setzero_ps(), _CMP_LT_OQ);
    n = _mm512_add_ps(n, _mm512_mask_blend_ps(negative, _mm512_set1_ps(0.5f), _mm512_set1_ps(-0.5f)));
    /* Truncated: rounded half away from zero. */
    const __m512i whole = _mm512_maskz_cvttps_epi32((__mmask16)~nan, n);
    n = _mm512_cvtepi32_ps(whole);
    __m512 r = _mm512_sub_ps(clamped, _mm512_mul_ps(n, _mm512_set1_ps(0.693359375f)));
    r = _mm512_sub_ps(r, _mm512_mul_ps(n, _mm512_set1_ps(-2.12194440e-4f)));
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(p, _mm512_mul_ps(r, r)), r), _mm512_set1_ps(1.0f));
    const __m512 scale = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(whole, _mm512_set1_epi32(127)), 23));
    const __m512 e = _mm512_maskz_mul_ps((__mmask16)~underflow, p, scale);
    return _mm512_mask_blend_ps(nan, e, x);
}

CK_AVX512 void ck_softmax_rows_avx512(const float *x, float *out, size_t rows, size_t n) {
    for (size_t row = 0; row < rows; row++) {
        const float *in = x + row * n;
        float *dst = out + row * n;
        /* The maximum, NaN passed over as the portable kernel passes over it (max returns its
           second operand then); the exps then make the row NaN. */
        __m512 vmax = _mm512_set1_ps(-__builtin_inff());
        for (size_t j = 0; j < n; j += 16)
            vmax = _mm512_max_ps(_mm512_mask_loadu_ps(_mm512_set1_ps(-__builtin_inff()), ck_first_lanes((long)(n - j)), in + j), vmax);
        const __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
        __m512 vsum = _mm512_setzero_ps();
        for (size_t j = 0; j < n; j += 16) {
            const __mmask16 k = ck_first_lanes((long)(n - j));
            const __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, in + j), m));
            _mm512_mask_storeu_ps(dst + j, k, e);
            vsum = _mm512_mask_add_ps(vsum, k, vsum, e);
        }
        const __m512 scale = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(vsum));
        for (size_t j = 0; j < n; j += 16) {
            const __mmask16 k = ck_first_lanes((long)(n - j));
            _mm512_mask_storeu_ps(dst + j, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, dst + j), scale));
        }
    }
}
#endif
