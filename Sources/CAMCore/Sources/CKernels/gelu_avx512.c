#include "dispatch.h"
#include "gelu_avx512.h"
#include "lanes.h"

/*
 * The exact GELU, 0.5·x·(1 + erf(x/√2)), by hand for AVX-512. erf is the portable kernel's
 * rational form (ck_erf_value in kernels.c: the same clamp to ±4 and the same coefficients),
 * with each polynomial step one fused multiply-add. That makes it about 1.5 times as fast as
 * the compiler's vectorisation of the portable loop, which keeps multiplies and adds apart
 * (-ffp-contract=off); results differ from it in the last place or so (both stay within
 * 5e-7 of the exact GELU on [-8, 8]).
 */

#if CK_HAS_VARIANTS
#include <immintrin.h>

CK_AVX512 static inline __m512 gelu16(__m512 x) {
    __m512 z = _mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f));
    z = _mm512_min_ps(_mm512_max_ps(z, _mm512_set1_ps(-4.0f)), _mm512_set1_ps(4.0f));
    const __m512 z2 = _mm512_mul_ps(z, z);
    __m512 p = _mm512_set1_ps(-2.72614225801306e-10f);
    p = _mm512_fmadd_ps(p, z2, _mm512_set1_ps(2.77068142495902e-08f));
    p = _mm512_fmadd_ps(p, z2, _mm512_set1_ps(-2.10102402082508e-06f));
    p = _mm512_fmadd_ps(p, z2, _mm512_set1_ps(-5.69250639462346e-05f));
    p = _mm512_fmadd_ps(p, z2, _mm512_set1_ps(-7.34990630326855e-04f));
    p = _mm512_fmadd_ps(p, z2, _mm512_set1_ps(-2.95459980854025e-03f));
    p = _mm512_fmadd_ps(p, z2, _mm512_set1_ps(-1.60960333262415e-02f));
    __m512 q = _mm512_set1_ps(-1.45660718464996e-05f);
    q = _mm512_fmadd_ps(q, z2, _mm512_set1_ps(-2.13374055278905e-04f));
    q = _mm512_fmadd_ps(q, z2, _mm512_set1_ps(-1.68282697438203e-03f));
    q = _mm512_fmadd_ps(q, z2, _mm512_set1_ps(-7.37332916720468e-03f));
    q = _mm512_fmadd_ps(q, z2, _mm512_set1_ps(-1.42647390514189e-02f));
    const __m512 erf = _mm512_div_ps(_mm512_mul_ps(z, p), q);
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), _mm512_add_ps(_mm512_set1_ps(1.0f), erf));
}

CK_AVX512 void ck_gelu_avx512(const float *x, float *out, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, gelu16(_mm512_loadu_ps(x + i)));
    if (i < n) {
        const __mmask16 k = ck_first_lanes((long)(n - i));
        _mm512_mask_storeu_ps(out + i, k, gelu16(_mm512_maskz_loadu_ps(k, x + i)));
    }
}
#endif
