#include "CKernels.h"
#include "dispatch.h"
#include "scratch.h"
#include "softmax_avx512.h"

/*
 * One head of attention, softmax(alpha · q·kᵀ) · v, in blocks of rows of the scores.
 *
 * Run as three operators, the scores (n_q × n_k for each head: 197 × 197 floats in a vision
 * transformer) are written by the first product, read and written by the softmax, and read
 * by the second product: at batch 16, each layer's scores take 7.4 MB, past L2. Here each
 * block of ROWS rows of scores is computed, normalised and multiplied by v while it is in L1,
 * with kᵀ and v packed once per head (in L2) as ck_gemm_packed_b's right operand.
 *
 * The values are those of the three operators: each score is one chain of fused multiply-adds
 * over d in order (as OpenBLAS's kernels and ck_gemm_packed_b sum), scaled by alpha in the
 * softmax (one rounding of alpha · (q·k), as BLAS applies alpha), normalised by the softmax
 * kernel, and multiplied by v as ck_gemm_packed_b multiplies.
 */

/* Rows of scores per block: 32 × 197 floats is 25 KB, within L1 beside a block of q. */
enum { ROWS = 32 };

int ck_attention_head(const float *q, size_t ldq, const float *k, size_t ldk, int keys_transposed, const float *v, size_t ldv,
                      int n_q, int n_k, int d, int dv, float alpha, float *out, size_t ldo) {
    if (n_q < 0 || n_k < 0 || d < 0 || dv < 0) return -3;
#if CK_HAS_VARIANTS
    if (ck_level() == 2) {
        if (n_q == 0 || dv == 0) return 0;
        const size_t keys_size = ck_gemm_packed_b_size(d, n_k), values_size = ck_gemm_packed_b_size(n_k, dv);
        const size_t ld_scores = n_k > 0 ? (size_t)n_k : 1;
        /* The packed operands and the block of scores share the thread's scratch; the products
           called below use none of it. */
        float *scratch = ck_thread_scratch(keys_size + values_size + ROWS * ld_scores);
        if (!scratch) return -1;
        float *keys = scratch, *values = scratch + keys_size, *scores = values + values_size;
        if (keys_transposed) ck_gemm_pack_b(k, ldk, d, n_k, keys);
        else ck_gemm_pack_b_transposed(k, ldk, d, n_k, keys);
        ck_gemm_pack_b(v, ldv, n_k, dv, values);
        for (int i0 = 0; i0 < n_q; i0 += ROWS) {
            const int rows = n_q - i0 < ROWS ? n_q - i0 : ROWS;
            int status = ck_gemm_packed_b(q + (size_t)i0 * ldq, ldq, 0, rows, 0, n_k, n_k, d, keys, scores, ld_scores, 0, 0, 0, 0);
            if (status != 0) return status;
            if (n_k > 0) ck_softmax_rows_avx512(scores, scores, (size_t)rows, (size_t)n_k, alpha);
            status = ck_gemm_packed_b(scores, ld_scores, 0, rows, 0, dv, dv, n_k, values, out + (size_t)i0 * ldo, ldo, 0, 0, 0, 0);
            if (status != 0) return status;
        }
        return 0;
    }
#endif
    (void)q; (void)ldq; (void)k; (void)ldk; (void)keys_transposed; (void)v; (void)ldv; (void)alpha; (void)out; (void)ldo;
    return -2;
}
