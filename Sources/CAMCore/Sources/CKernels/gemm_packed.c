#include "CKernels.h"
#include "dispatch.h"
#include "scratch.h"
#include "gemm_layout.h"
#include "lanes.h"
#include "gelu_avx512.h"
#include "transpose16.h"
#include <string.h>

/*
 * Matrix products with one operand packed once and kept (a layer's weights), for CPUs with
 * AVX-512; elsewhere the callers use OpenBLAS.
 *
 * BLAS packs both operands again on every call. For the Winograd products of a network's
 * deep layers, A (the transformed filters, up to 512 × 512 for each of 36 positions) is much
 * larger than B (a few dozen tiles), so repacking it dominated. Two forms:
 *
 * - ck_gemm_packed: A packed (a convolution's filters, on the left), in the order the product
 *   reads it: slabs of up to KC columns, each in blocks of MR rows ([slab][m/MR][kc][MR], zero rows
 *   at the end), one sequential stream, prefetched a block ahead. B is copied per KC × NC
 *   block into panels of 16 columns in the calling thread's scratch (L2), and each MR × KC
 *   block of A (L1) passes over all of it. The bias, residual and activation of a
 *   convolution can be applied to each block as it is stored (ck_epilogue).
 * - ck_gemm_packed_b: B packed (a transformer's projection weights, on the right), in slabs of
 *   KCB rows of 16-column panels; the activations X on the left are read in place, MR rows at
 *   a time, across NB columns of the slab.
 *
 * The micro-kernel holds an MR × NR = 8 × 48 block of C in 24 vector registers; each step of
 * k loads three vectors of B, broadcasts eight values of A and does 24 fused multiply-adds.
 * Every C value is one chain of fused multiply-adds over k in order, as in OpenBLAS's kernels.
 */

/* MR rows of C per micro-kernel, PACK rows per packed block of A (two micro-kernels' worth). */
enum { MR = 8, PACK = CK_PACK_MR, NR = 48, KC = CK_PACK_KC };

/* Rows of B per slab when B is the packed operand (one slab for a transformer's 192-wide
   projections). */
enum { KCB = 256 };

/* Products of up to this many rows (per call: a thread's share) read B in place
   (gemm_in_place_avx512) instead of packing it. Each packed value of B feeds one multiply-add
   per row, so for EfficientNet's projections (16 to 40 rows) the copy took about a third of the
   time. One core, B just written: 24 × 144 × 3136 took 0.236 ms packed, 0.150 in place;
   64 × 576 × 3136 1.97 and 1.62; 80 × 480 × 196 0.106 packed, 0.116 in place. */
enum { IN_PLACE_ROWS = 64 };

int ck_gemm_packed_available(void) { return ck_level() == 2; }

int ck_gemm_packed_thin_columns(int n) { return ck_level() == 2 && ck_gemm_thin_preferred(n); }

size_t ck_gemm_packed_size(int m, int k) { return (size_t)((m + PACK - 1) / PACK) * PACK * (size_t)k; }

void ck_gemm_pack_a(const float *a, size_t lda, int m, int k, float *packed) {
    const int mp = (m + PACK - 1) / PACK * PACK;
    const int slab = ck_pack_slab_width(k);
    for (int k0 = 0; k0 < k; k0 += slab) {
        const int kc = k - k0 < slab ? k - k0 : slab;
        for (int m0 = 0; m0 < mp; m0 += PACK) {
            float *block = packed + (size_t)k0 * mp + (size_t)m0 * kc;
            for (int i = 0; i < kc; i++) {
                for (int r = 0; r < PACK; r++) block[(size_t)i * PACK + r] = m0 + r < m ? a[(size_t)(m0 + r) * lda + k0 + i] : 0.0f;
            }
        }
    }
}

#if CK_HAS_VARIANTS
#include <immintrin.h>

/* What a block's store applies (when `active`): bias[r] for its row r, the residual at the
   block's own offset (pitch ldc), and the clamp. */
typedef struct {
    int active;
    const float *bias, *residual;
    float lo, hi;
} block_epilogue;

static const block_epilogue no_epilogue = {0, 0, 0, 0.0f, 0.0f};

/* Where a block's sums start when they do not accumulate onto C: residual (laid out as C, at
   the block's own offset) + bias (one per column, from the block's first); either may be NULL
   (zero). A projection's bias and the residual added after it, without a pass that writes
   them into C first. */
typedef struct {
    const float *bias, *residual;
} block_start;

static const block_start zero_start = {0, 0};

/* C[rows × cols] = start + A · b (or C + A · b with `accumulate`), where row r of A is a[r][i · a_k] for i < kc (a_k = PACK for a
   packed block, 1 for a row-major matrix), and b holds nv ≤ 3 groups of 16 columns, `panel`
   floats apart, each with its rows b_step floats apart: packed panels ([kc][16]: b_step 16),
   or, `in_place`, B itself (panel 16, b_step its row pitch; loads past column `cols` masked
   off). cols ≤ 16·nv, rows ≤ MR. Inlined with constant nv, a_k and in_place, so that each
   form gets its own register-only loop. With `prefetch`, the next packed block of A (a_k · kc
   floats on) is fetched while this one computes; with `next_b` (in place), the same rows of
   the columns there are fetched into L2. `ep`, when active, is applied
   to the sums in registers as they are stored (a reload and second store of the block cost
   up to a third of the time of products with short k, such as EfficientNet's expansions). */
CK_AVX512 __attribute__((always_inline)) static inline void
micro_kernel(int nv, int a_k, int prefetch, int kc, const float *const a[MR], const float *restrict b, size_t panel, size_t b_step,
             int in_place, const float *next_b, float *restrict c, size_t ldc, int accumulate, block_start start, int rows, int cols,
             block_epilogue ep) {
    __mmask16 mask[3];
    for (int v = 0; v < nv; v++) {
        const int left = cols - 16 * v;
        mask[v] = ck_first_lanes(left);
    }
    /* Every loop over acc is unrolled in full, so that each accumulator is indexed by constants
       and lives in a register: with the row count `rows` as a loop bound, clang kept acc in
       memory too and stored all 24 accumulators on every step of k when A was read in place
       (ck_gemm_packed_b: 150 against 180 GFLOP/s on one core). */
    __m512 acc[MR][3];
#pragma clang loop unroll(full)
    for (int r = 0; r < MR; r++) {
#pragma clang loop unroll(full)
        for (int v = 0; v < nv; v++) {
            if (accumulate && r < rows) {
                acc[r][v] = _mm512_maskz_loadu_ps(mask[v], c + (size_t)r * ldc + 16 * v);
                continue;
            }
            /* residual + bias, in that order, as the Add after a projection computes it. */
            __m512 t = start.bias ? _mm512_maskz_loadu_ps(mask[v], start.bias + 16 * v) : _mm512_setzero_ps();
            if (start.residual && r < rows) {
                const __m512 residual = _mm512_maskz_loadu_ps(mask[v], start.residual + (size_t)r * ldc + 16 * v);
                t = start.bias ? _mm512_add_ps(residual, t) : residual;
            }
            acc[r][v] = t;
        }
    }
    for (int i = 0; i < kc; i++) {
        __m512 bv[3];
        for (int v = 0; v < nv; v++) {
            const float *bi = b + (size_t)v * panel + b_step * (size_t)i;
            bv[v] = in_place ? _mm512_maskz_loadu_ps(mask[v], bi) : _mm512_loadu_ps(bi);
            if (in_place && next_b) _mm_prefetch((const char *)(next_b + (size_t)v * panel + b_step * (size_t)i), _MM_HINT_T1);
        }
        if (prefetch) _mm_prefetch((const char *)(a[0] + (size_t)a_k * kc + (size_t)i * a_k), _MM_HINT_T0);
#pragma clang loop unroll(full)
        for (int r = 0; r < MR; r++) {
            const __m512 ar = _mm512_set1_ps(a[r][(size_t)i * a_k]);
            for (int v = 0; v < nv; v++) acc[r][v] = _mm512_fmadd_ps(ar, bv[v], acc[r][v]);
        }
    }
    /* The epilogue on the sums still in registers: (v + bias[r]) + residual, clamped, with NaN
       kept (max and min return their second operand for NaN), as ck_bias_residual_clamp. */
    const __m512 vlo = _mm512_set1_ps(ep.lo), vhi = _mm512_set1_ps(ep.hi);
#pragma clang loop unroll(full)
    for (int r = 0; r < MR; r++) {
        if (r >= rows) continue;
        const __m512 vb = _mm512_set1_ps(ep.active && ep.bias ? ep.bias[r] : 0.0f);
#pragma clang loop unroll(full)
        for (int v = 0; v < nv; v++) {
            __m512 t = acc[r][v];
            if (ep.active) {
                t = _mm512_add_ps(t, vb);
                if (ep.residual) t = _mm512_add_ps(t, _mm512_maskz_loadu_ps(mask[v], ep.residual + (size_t)r * ldc + 16 * v));
                t = _mm512_min_ps(vhi, _mm512_max_ps(vlo, t));
            }
            _mm512_mask_storeu_ps(c + (size_t)r * ldc + 16 * v, mask[v], t);
        }
    }
}

/* One block of MR rows of C across nc columns: micro-kernels of NR = 48 columns, the last one
   16, 32 or 48 wide, each applying the epilogue (when active) as it stores its sums. `panels` holds the
   columns' 16-wide panels, [nc/16][kc][16]. */
CK_AVX512 __attribute__((always_inline)) static inline void
block_row(int a_k, int prefetch, int kc, const float *const a[MR], const float *panels, float *c, size_t ldc, int accumulate,
          block_start start, int rows, int nc, block_epilogue ep) {
    const size_t panel = (size_t)16 * kc;
    for (int j = 0; j < nc; j += NR) {
        const int cols = nc - j < NR ? nc - j : NR;
        const float *p = panels + (size_t)j * kc;
        const block_start at = {start.bias ? start.bias + j : 0, start.residual ? start.residual + j : 0};
        block_epilogue end = ep;
        end.residual = ep.residual ? ep.residual + j : 0;
        if (cols > 32) micro_kernel(3, a_k, prefetch, kc, a, p, panel, 16, 0, 0, c + j, ldc, accumulate, at, rows, cols, end);
        else if (cols > 16) micro_kernel(2, a_k, prefetch, kc, a, p, panel, 16, 0, 0, c + j, ldc, accumulate, at, rows, cols, end);
        else micro_kernel(1, a_k, prefetch, kc, a, p, panel, 16, 0, 0, c + j, ldc, accumulate, at, rows, cols, end);
    }
}

/* b → panels of 16 columns, [cols/16][kc][16], zero after the last column. */
CK_AVX512 static void pack_b(const float *restrict src, size_t ldb, int kc, int cols, float *restrict panels) {
    for (int j = 0; j < cols; j += 16) {
        const int left = cols - j;
        const __mmask16 mask = ck_first_lanes(left);
        float *restrict p = panels + (size_t)j * kc;
        const float *restrict s = src + j;
        for (int i = 0; i < kc; i++) _mm512_storeu_ps(p + 16 * (size_t)i, _mm512_maskz_loadu_ps(mask, s + (size_t)i * ldb));
    }
}

/* ck_gemm_pack_b's layout, in vectors. */
CK_AVX512 static void pack_b_avx512(const float *b, size_t ldb, int k, int n, float *packed) {
    const size_t np = (size_t)(n + 15) / 16 * 16;
    for (int k0 = 0; k0 < k; k0 += KCB) {
        const int kc = k - k0 < KCB ? k - k0 : KCB;
        pack_b(b + (size_t)k0 * ldb, ldb, kc, n, packed + (size_t)k0 * np);
    }
}

/* The same layout for B given as its transpose bt (n × k, row pitch ld): each 16 × 16 block of
   bt is transposed in registers, so the keys of attention (one per row) become B's columns. */
CK_AVX512 static void pack_b_transposed_avx512(const float *bt, size_t ld, int k, int n, float *packed) {
    const size_t np = (size_t)(n + 15) / 16 * 16;
    for (int k0 = 0; k0 < k; k0 += KCB) {
        const int kc = k - k0 < KCB ? k - k0 : KCB;
        for (int j = 0; j < n; j += 16) {
            float *panel = packed + (size_t)k0 * np + (size_t)j * kc;
            const int cols = n - j;
            for (int i = 0; i < kc; i += 16) {
                const __mmask16 mask = ck_first_lanes(kc - i);
                __m512 r[16];
#pragma clang loop unroll(full)
                for (int t = 0; t < 16; t++)
                    r[t] = t < cols ? _mm512_maskz_loadu_ps(mask, bt + (size_t)(j + t) * ld + k0 + i) : _mm512_setzero_ps();
                ck_transpose16(r);
#pragma clang loop unroll(full)
                for (int e = 0; e < 16; e++)
                    if (i + e < kc) _mm512_storeu_ps(panel + (size_t)(i + e) * 16, r[e]);
            }
        }
    }
}

/* Rows m0 … m0 + 7 of A in the slab of k starting at k0 (kc wide): one half of a packed block
   of 16, row r at a[r][i · PACK]. */
static inline void packed_rows(const float *packed_a, int mp, int k0, int kc, int m0, const float *a[MR]) {
    const float *block = packed_a + (size_t)k0 * mp + (size_t)(m0 / PACK * PACK) * kc + m0 % PACK;
    for (int r = 0; r < MR; r++) a[r] = block + r;
}

/* What the block of C at row m0, column j0 applies as it is stored: `e` (bias from row m0,
   residual at the block's offset) once its `last` slab of k is summed, nothing before. */
static inline block_epilogue epilogue_at(const ck_epilogue *e, int last, int m0, int j0, size_t ldc) {
    if (!e || !last) return no_epilogue;
    const block_epilogue ep = {1, e->bias ? e->bias + m0 : 0, e->residual ? e->residual + (size_t)m0 * ldc + j0 : 0, e->lo, e->hi};
    return ep;
}

/* As gemm_packed_avx512 for a product with few rows (at most IN_PLACE_ROWS), where each copied
   value of B would feed only a few multiply-adds: B is read in place, strip by strip of NR
   columns, every block of MR rows passing over the strip while it is in L1, and the next
   strip is fetched into L2 meanwhile. */
CK_AVX512 static void gemm_in_place_avx512(const float *packed_a, int m, int first_row, int rows, int n, int k, const float *b,
                                           size_t ldb, float *c, size_t ldc, const ck_epilogue *epilogue) {
    const int mp = (m + PACK - 1) / PACK * PACK, slab = ck_pack_slab_width(k), end = first_row + rows;
    for (int j0 = 0; j0 < n; j0 += NR) {
        const int cols = n - j0 < NR ? n - j0 : NR;
        for (int k0 = 0; k0 < k; k0 += slab) {
            const int kc = k - k0 < slab ? k - k0 : slab;
            const float *strip = b + (size_t)k0 * ldb + j0;
            for (int m0 = first_row; m0 < end; m0 += MR) {
                const float *a[MR];
                packed_rows(packed_a, mp, k0, kc, m0, a);
                const int height = end - m0 < MR ? end - m0 : MR;
                const block_epilogue ep = epilogue_at(epilogue, k0 + kc == k, m0, j0, ldc);
                /* The first block of rows fetches the next strip's rows of this slab. */
                const float *next = m0 == first_row && j0 + NR < n ? strip + NR : 0;
                float *dst = c + (size_t)m0 * ldc + j0;
                if (cols > 32) micro_kernel(3, PACK, 0, kc, a, strip, 16, ldb, 1, next, dst, ldc, k0 > 0, zero_start, height, cols, ep);
                else if (cols > 16) micro_kernel(2, PACK, 0, kc, a, strip, 16, ldb, 1, next, dst, ldc, k0 > 0, zero_start, height, cols, ep);
                else micro_kernel(1, PACK, 0, kc, a, strip, 16, ldb, 1, next, dst, ldc, k0 > 0, zero_start, height, cols, ep);
            }
        }
    }
}

/* Columns per block of B: KC × NC floats (up to 720 KB) stay in L2 while A's rows pass over them. */
enum { NC = 960 };

CK_AVX512 static int gemm_packed_avx512(const float *packed_a, int m, int first_row, int rows, int n, int k, const float *b,
                                        size_t ldb, float *c, size_t ldc, const ck_epilogue *epilogue) {
    if (k == 0) {
        for (int r = first_row; r < first_row + rows; r++) {
            float *row = c + (size_t)r * ldc;
            for (int j = 0; j < n; j++) {
                float t = 0.0f;
                if (epilogue) {
                    t = t + (epilogue->bias ? epilogue->bias[r] : 0.0f);
                    if (epilogue->residual) t = t + epilogue->residual[(size_t)r * ldc + j];
                    t = t < epilogue->lo ? epilogue->lo : t;
                    t = t > epilogue->hi ? epilogue->hi : t;
                }
                row[j] = t;
            }
        }
        return 0;
    }
    float *panels = ck_thread_scratch((size_t)KC * NC);
    if (!panels) return -1;
    const int mp = (m + PACK - 1) / PACK * PACK, slab = ck_pack_slab_width(k);
    for (int j0 = 0; j0 < n; j0 += NC) {
        const int nc = n - j0 < NC ? n - j0 : NC;
        for (int k0 = 0; k0 < k; k0 += slab) {
            const int kc = k - k0 < slab ? k - k0 : slab;
            pack_b(b + (size_t)k0 * ldb + j0, ldb, kc, nc, panels);
            for (int m0 = first_row; m0 < first_row + rows; m0 += MR) {
                const float *a[MR];
                packed_rows(packed_a, mp, k0, kc, m0, a);
                const int height = first_row + rows - m0 < MR ? first_row + rows - m0 : MR;
                const block_epilogue ep = epilogue_at(epilogue, k0 + kc == k, m0, j0, ldc);
                block_row(PACK, 1, kc, a, panels, c + (size_t)m0 * ldc + j0, ldc, k0 > 0, zero_start, height, nc, ep);
            }
        }
    }
    return 0;
}

/* Rows of X (row-major) per block: their MB × KC slab (128 KB) and their rows of C stay in L2
   while the panels of B pass over them, slab after slab. */
enum { MB = 256, NB = 192 };

CK_AVX512 static int gemm_packed_b_avx512(const float *x, size_t lda, int first_row, int rows, int first_col, int cols, int n,
                                          int k, const float *packed_b, float *c, size_t ldc, int accumulate, const float *bias,
                                          const float *residual, int gelu) {
    if (k == 0) {
        for (int r = first_row; r < first_row + rows; r++) {
            float *row = c + (size_t)r * ldc + first_col;
            if (!accumulate)
                for (int j = first_col; j < first_col + cols; j++) {
                    const float b = bias ? bias[j] : 0.0f;
                    row[j - first_col] = residual ? residual[(size_t)r * ldc + j] + b : b;
                }
            if (gelu) ck_gelu_avx512(row, row, (size_t)cols);
        }
        return 0;
    }
    const int np = (n + 15) / 16 * 16;
    c += first_col;
    if (bias) bias += first_col;
    if (residual) residual += first_col;
    for (int i0 = first_row; i0 < first_row + rows; i0 += MB) {
        const int end = first_row + rows - i0 < MB ? first_row + rows : i0 + MB;
        for (int k0 = 0; k0 < k; k0 += KCB) {
            const int kc = k - k0 < KCB ? k - k0 : KCB;
            const float *slab = packed_b + (size_t)k0 * np + (size_t)first_col * kc;
            /* Each block of rows (MR × kc, in L1) across NB columns of the slab's panels (L2). */
            for (int j0 = 0; j0 < cols; j0 += NB) {
                const int nb = cols - j0 < NB ? cols - j0 : NB;
                for (int m0 = i0; m0 < end; m0 += MR) {
                    const int height = end - m0 < MR ? end - m0 : MR;
                    const float *a[MR];
                    /* Rows past the last repeat it (computed, never stored), so nothing outside X is read. */
                    for (int r = 0; r < MR; r++) a[r] = x + (size_t)(m0 + (r < height ? r : height - 1)) * lda + k0;
                    /* The first slab's sums start from the bias and residual (unless they accumulate onto C). */
                    const block_start start = k0 > 0 || accumulate ? zero_start
                        : (block_start){bias ? bias + j0 : 0, residual ? residual + (size_t)m0 * ldc + j0 : 0};
                    block_row(1, 0, kc, a, slab + (size_t)j0 * kc, c + (size_t)m0 * ldc + j0, ldc, accumulate || k0 > 0, start, height,
                              nb, no_epilogue);
                    /* GELU on the finished block while it is still in L1. */
                    if (gelu && k0 + kc == k)
                        for (int r = 0; r < height; r++) ck_gelu_avx512(c + (size_t)(m0 + r) * ldc + j0, c + (size_t)(m0 + r) * ldc + j0, (size_t)nb);
                }
            }
        }
    }
    return 0;
}
#endif

int ck_gemm_packed(const float *packed_a, int m, int first_row, int rows, int n, int k, const float *b, size_t ldb, float *c,
                   size_t ldc, const ck_epilogue *epilogue) {
    if (first_row < 0 || first_row % MR != 0 || rows < 0 || first_row + rows > m) return -3;
#if CK_HAS_VARIANTS
    if (ck_level() == 2) {
        if (k > 0 && rows > 0 && first_row % PACK == 0) {
            if (ck_gemm_thin_preferred(n)) return ck_gemm_packed_thin(packed_a, m, first_row, rows, n, k, b, ldb, c, ldc, epilogue);
            if (rows <= IN_PLACE_ROWS && n > 64) {
                gemm_in_place_avx512(packed_a, m, first_row, rows, n, k, b, ldb, c, ldc, epilogue);
                return 0;
            }
            /* A few columns past the last multiple of 16 (a 14 × 14 plane's 196 = 192 + 4) would
               take a whole vector of the wide kernel for each block of 8 rows; the thin one
               computes them with rows in lanes instead, rounding alike. 80 × 480 × 196 on one
               core: 0.111 → 0.105 ms; 112 × 672 × 196: 0.222 → 0.206. */
            const int edge = n % 16;
            if (n > 64 && edge > 0 && edge <= 8) {
                const int wide = gemm_packed_avx512(packed_a, m, first_row, rows, n - edge, k, b, ldb, c, ldc, epilogue);
                if (wide != 0) return wide;
                ck_epilogue shifted;
                if (epilogue) {
                    shifted = *epilogue;
                    if (shifted.residual) shifted.residual += n - edge;
                }
                return ck_gemm_packed_thin(packed_a, m, first_row, rows, edge, k, b + (n - edge), ldb, c + (n - edge), ldc,
                                           epilogue ? &shifted : 0);
            }
        }
        return gemm_packed_avx512(packed_a, m, first_row, rows, n, k, b, ldb, c, ldc, epilogue);
    }
#endif
    return -2;
}

size_t ck_gemm_packed_b_size(int k, int n) { return (size_t)k * (size_t)((n + 15) / 16 * 16); }

/* ck_gemm_pack_b's layout, one value at a time, of the k × n matrix whose (i, j) value is
   src[i · row_step + j · column_step]: B itself, or B given as its transpose. */
static void pack_b_portable(const float *src, size_t row_step, size_t column_step, int k, int n, float *packed) {
    const int np = (n + 15) / 16 * 16;
    for (int k0 = 0; k0 < k; k0 += KCB) {
        const int kc = k - k0 < KCB ? k - k0 : KCB;
        float *slab = packed + (size_t)k0 * np;
        for (int j = 0; j < np; j++)
            for (int i = 0; i < kc; i++)
                slab[(size_t)(j / 16 * 16) * kc + (size_t)i * 16 + j % 16] =
                    j < n ? src[(size_t)(k0 + i) * row_step + (size_t)j * column_step] : 0.0f;
    }
}

void ck_gemm_pack_b(const float *b, size_t ldb, int k, int n, float *packed) {
#if CK_HAS_VARIANTS
    if (ck_level() == 2) {
        pack_b_avx512(b, ldb, k, n, packed);
        return;
    }
#endif
    pack_b_portable(b, ldb, 1, k, n, packed);
}

void ck_gemm_pack_b_transposed(const float *bt, size_t ld, int k, int n, float *packed) {
#if CK_HAS_VARIANTS
    if (ck_level() == 2) {
        pack_b_transposed_avx512(bt, ld, k, n, packed);
        return;
    }
#endif
    pack_b_portable(bt, 1, ld, k, n, packed);
}

int ck_gemm_packed_b(const float *a, size_t lda, int first_row, int rows, int first_col, int cols, int n, int k,
                     const float *packed_b, float *c, size_t ldc, int accumulate, const float *bias, const float *residual,
                     int gelu) {
    if (first_row < 0 || rows < 0 || first_col < 0 || first_col % 16 != 0 || cols < 0 || first_col + cols > n) return -3;
#if CK_HAS_VARIANTS
    if (ck_level() == 2)
        return gemm_packed_b_avx512(a, lda, first_row, rows, first_col, cols, n, k, packed_b, c, ldc, accumulate, bias, residual, gelu);
#endif
    return -2;
}
