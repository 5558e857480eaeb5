#include "CKernels.h"
#include "dispatch.h"
#include "scratch.h"
#include <string.h>

/*
 * C = A · B with A packed once and kept (a convolution's filters), for CPUs with AVX-512.
 *
 * BLAS packs both operands again on every call. For the Winograd products of a network's
 * deep layers, A (the transformed filters, up to 512 × 512 for each of 36 positions) is much
 * larger than B (a few dozen tiles), so repacking it dominated. Here A is packed once, in the
 * order the product reads it: slabs of KC columns, each in blocks of MR rows
 * ([k/KC][m/MR][KC][MR], zero rows at the end), one sequential stream read once per KC × NC block of
 * B, which is copied into panels of 16 columns in the calling thread's scratch (L2) while each
 * MR × KC block of A (L1) passes over all of it.
 *
 * The micro-kernel holds an MR × NR = 8 × 48 block of C in 24 vector registers; each step
 * of k loads three vectors of B, broadcasts eight values of A and does 24 fused multiply-adds.
 * Every C value is one chain of fused multiply-adds over k in order, as in OpenBLAS's kernels.
 */

enum { MR = 8, NR = 48, KC = 128 };

int ck_gemm_packed_available(void) { return ck_level() == 2; }

size_t ck_gemm_packed_size(int m, int k) { return (size_t)((m + MR - 1) / MR) * MR * (size_t)k; }

void ck_gemm_pack_a(const float *a, size_t lda, int m, int k, float *packed) {
    const int mp = (m + MR - 1) / MR * MR;
    for (int k0 = 0; k0 < k; k0 += KC) {
        const int kc = k - k0 < KC ? k - k0 : KC;
        for (int m0 = 0; m0 < mp; m0 += MR) {
            float *block = packed + (size_t)k0 * mp + (size_t)m0 * kc;
            for (int i = 0; i < kc; i++) {
                for (int r = 0; r < MR; r++) block[(size_t)i * MR + r] = m0 + r < m ? a[(size_t)(m0 + r) * lda + k0 + i] : 0.0f;
            }
        }
    }
}

#if CK_HAS_VARIANTS
#include <immintrin.h>

/* C[rows × cols] (= or +=) a[kc][MR] · b, where b holds nv ≤ 3 panels of 16 columns, each
   [kc][16], `panel` floats apart; cols ≤ 16·nv, rows ≤ MR. Inlined with a constant nv, so that
   each width gets its own register-only loop. */
CK_AVX512 __attribute__((always_inline)) static inline void
micro_kernel(int nv, int kc, const float *restrict a, const float *restrict b, size_t panel, float *restrict c,
             size_t ldc, int accumulate, int rows, int cols) {
    __mmask16 mask[3];
    for (int v = 0; v < nv; v++) {
        const int left = cols - 16 * v;
        mask[v] = left >= 16 ? 0xFFFF : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
    }
    __m512 acc[MR][3];
    for (int r = 0; r < MR; r++) {
        for (int v = 0; v < nv; v++) {
            acc[r][v] = accumulate && r < rows ? _mm512_maskz_loadu_ps(mask[v], c + (size_t)r * ldc + 16 * v) : _mm512_setzero_ps();
        }
    }
    for (int i = 0; i < kc; i++) {
        __m512 bv[3];
        for (int v = 0; v < nv; v++) bv[v] = _mm512_load_ps(b + (size_t)v * panel + 16 * (size_t)i);
        /* The next block of A's rows follows this one: fetch it while this one computes. */
        _mm_prefetch((const char *)(a + (size_t)MR * kc), _MM_HINT_T0);
#pragma clang loop unroll(full)
        for (int r = 0; r < MR; r++) {
            const __m512 ar = _mm512_set1_ps(a[r]);
            for (int v = 0; v < nv; v++) acc[r][v] = _mm512_fmadd_ps(ar, bv[v], acc[r][v]);
        }
        a += MR;
    }
    for (int r = 0; r < rows; r++) {
        for (int v = 0; v < nv; v++) _mm512_mask_storeu_ps(c + (size_t)r * ldc + 16 * v, mask[v], acc[r][v]);
    }
}

/* b → panels of 16 columns, [cols/16][kc][16], zero after the last column. */
CK_AVX512 static void pack_b(const float *restrict src, size_t ldb, int kc, int cols, float *restrict panels) {
    for (int j = 0; j < cols; j += 16) {
        const int left = cols - j;
        const __mmask16 mask = left >= 16 ? 0xFFFF : (__mmask16)((1u << left) - 1);
        float *restrict p = panels + (size_t)j * kc;
        const float *restrict s = src + j;
        for (int i = 0; i < kc; i++) _mm512_store_ps(p + 16 * (size_t)i, _mm512_maskz_loadu_ps(mask, s + (size_t)i * ldb));
    }
}

/* Columns per block of B: KC × NC floats (480 KB) stay in L2 while A's rows pass over them. */
enum { NC = 960 };

CK_AVX512 static int gemm_packed_avx512(const float *packed_a, int m, int first_row, int rows, int n, int k, const float *b,
                                        size_t ldb, float *c, size_t ldc) {
    if (k == 0) {
        for (int r = first_row; r < first_row + rows; r++) memset(c + (size_t)r * ldc, 0, sizeof(float) * (size_t)n);
        return 0;
    }
    float *panels = ck_thread_scratch((size_t)KC * NC);
    if (!panels) return -1;
    const int mp = (m + MR - 1) / MR * MR;
    for (int j0 = 0; j0 < n; j0 += NC) {
        const int nc = n - j0 < NC ? n - j0 : NC;
        for (int k0 = 0; k0 < k; k0 += KC) {
            const int kc = k - k0 < KC ? k - k0 : KC;
            const size_t panel = (size_t)16 * kc;
            pack_b(b + (size_t)k0 * ldb + j0, ldb, kc, nc, panels);
            for (int m0 = first_row; m0 < first_row + rows; m0 += MR) {
                const float *a = packed_a + (size_t)k0 * mp + (size_t)m0 * kc;
                float *cm = c + (size_t)m0 * ldc + j0;
                const int block = first_row + rows - m0 < MR ? first_row + rows - m0 : MR;
                int j = 0;
                for (; j + 48 <= nc; j += 48) micro_kernel(3, kc, a, panels + (size_t)j * kc, panel, cm + j, ldc, k0 > 0, block, 48);
                const int left = nc - j;
                if (left > 32) micro_kernel(3, kc, a, panels + (size_t)j * kc, panel, cm + j, ldc, k0 > 0, block, left);
                else if (left > 16) micro_kernel(2, kc, a, panels + (size_t)j * kc, panel, cm + j, ldc, k0 > 0, block, left);
                else if (left > 0) micro_kernel(1, kc, a, panels + (size_t)j * kc, panel, cm + j, ldc, k0 > 0, block, left);
            }
        }
    }
    return 0;
}
#endif

int ck_gemm_packed(const float *packed_a, int m, int first_row, int rows, int n, int k, const float *b, size_t ldb, float *c,
                   size_t ldc) {
    if (first_row < 0 || first_row % MR != 0 || rows < 0 || first_row + rows > m) return -3;
#if CK_HAS_VARIANTS
    if (ck_level() == 2) return gemm_packed_avx512(packed_a, m, first_row, rows, n, k, b, ldb, c, ldc);
#endif
    return -2;
}
