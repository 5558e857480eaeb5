#include "CKernels.h"
#include "dispatch.h"
#include "scratch.h"
#include "gemm_layout.h"
#include "transpose16.h"

/* Columns of C per block of the thin kernel, at most. */
enum { MAX_WIDTH = 8 };

/*
 * C = A · B for thin B (few columns), with A packed by ck_gemm_pack_a (AVX-512).
 *
 * ck_gemm_packed puts 48 columns of C in three vectors. When C has few columns (a late layer's
 * 7 × 7 plane is 49) the last vector is nearly empty and its block is dominated by the
 * broadcasts of A, so the product ran at 130 GFLOP/s on one core where 48 columns ran at 180.
 * Here the vectors run down C's rows instead: each step of k loads 48 rows of A (a packed
 * block of 16 rows per vector, as it is) and broadcasts up to 8 values of
 * one row of B, read in place (no packing of B, which also helps when A has few rows). The
 * columns are cut into equal blocks of at most 8 (49 = 7 × 7), so almost no lane is wasted.
 * Strips of 48 rows of C are kept transposed ([column][row]) in scratch over all of k, then
 * stored through 16 × 16 transposes with the bias, residual and activation applied.
 *
 * Every C value is one chain of fused multiply-adds over k in order, with the same operands
 * as in ck_gemm_packed, so both products round alike.
 */

#if CK_HAS_VARIANTS
#include <immintrin.h>

/* PREFETCH_STEPS: how many steps of k ahead each block of A is fetched. A's late layers (up to
   1152 × 1152 floats) come from L3 on every pass, and the hardware's prefetch alone left the
   product waiting: 192 × 1152 × 49 on one core took 0.184 ms, 0.171 with this. */
enum { MR = CK_PACK_MR, KC = CK_PACK_KC, STRIP = 48, PREFETCH_STEPS = 16 };

/* Stands in for the 16-row blocks past the end of A. */
static const float zero_block[KC * MR] __attribute__((aligned(64)));

/*
 * Where the thin product reads B: the value at row i, column j is
 * base[row_offset[i] + line(j) · line_pitch + pos(j) · step], column j being position
 * pos(j) = j mod line_length of line line(j) = j / line_length. A row-major B is one line
 * (step 1, row_offset[i] = i · ldb). A convolution's input read in place as its im2col matrix
 * (an implicit GEMM) has a line per output row (line_length = the output width, line_pitch =
 * stride_h rows of the input, step = stride_w) and row_offset[i] = where tap i = (channel, ky,
 * kx) starts. Blocks of columns never cross a line, so within a block the columns are `step`
 * apart, a constant of the inlined kernel.
 */
typedef struct {
    const float *base;
    const size_t *row_offset;
    int line_length;
    size_t line_pitch;
    int step;
} thin_source;

/* tile[j][16v + r] (+)= Σ_i A[r][i] · B[i][j] for j < width (a constant), v < nv, over kc
   steps of one slab: `a_blocks[v]` is the packed 16-row block of vector v; B[i][j] is
   b[row_offset[i] + j · step]. */
CK_AVX512 __attribute__((always_inline)) static inline void thin_kernel(int nv, int width, int step, int kc, const float *const a_blocks[3],
                                                                       const float *b, const size_t *row_offset, float *tile,
                                                                       int accumulate) {
    __m512 acc[MAX_WIDTH][3];
    for (int j = 0; j < width; j++)
        for (int v = 0; v < nv; v++) acc[j][v] = accumulate ? _mm512_load_ps(tile + j * STRIP + 16 * v) : _mm512_setzero_ps();
    for (int i = 0; i < kc; i++) {
        __m512 a[3];
        for (int v = 0; v < nv; v++) {
            a[v] = _mm512_loadu_ps(a_blocks[v] + i * MR);
            _mm_prefetch((const char *)(a_blocks[v] + (i + PREFETCH_STEPS) * MR), _MM_HINT_T0);
        }
        const float *bi = b + row_offset[i];
#pragma clang loop unroll(full)
        for (int j = 0; j < width; j++) {
            const __m512 bj = _mm512_set1_ps(bi[j * step]);
            for (int v = 0; v < nv; v++) acc[j][v] = _mm512_fmadd_ps(bj, a[v], acc[j][v]);
        }
    }
    for (int j = 0; j < width; j++)
        for (int v = 0; v < nv; v++) _mm512_store_ps(tile + j * STRIP + 16 * v, acc[j][v]);
}

#define THIN_WIDTHS(nv, step)                                                                                                 \
    switch (width) {                                                                                                          \
    case 1: thin_kernel(nv, 1, step, kc, a_blocks, b, row_offset, tile, accumulate); break;                                   \
    case 2: thin_kernel(nv, 2, step, kc, a_blocks, b, row_offset, tile, accumulate); break;                                \
    case 3: thin_kernel(nv, 3, step, kc, a_blocks, b, row_offset, tile, accumulate); break;                                \
    case 4: thin_kernel(nv, 4, step, kc, a_blocks, b, row_offset, tile, accumulate); break;                                \
    case 5: thin_kernel(nv, 5, step, kc, a_blocks, b, row_offset, tile, accumulate); break;                                \
    case 6: thin_kernel(nv, 6, step, kc, a_blocks, b, row_offset, tile, accumulate); break;                                \
    case 7: thin_kernel(nv, 7, step, kc, a_blocks, b, row_offset, tile, accumulate); break;                                \
    default: thin_kernel(nv, 8, step, kc, a_blocks, b, row_offset, tile, accumulate); break;                               \
    }

#define THIN_VECTORS(step)                                                                                                    \
    if (nv == 3) { THIN_WIDTHS(3, step) }                                                                                     \
    else if (nv == 2) { THIN_WIDTHS(2, step) }                                                                                \
    else { THIN_WIDTHS(1, step) }

/* One block: `step` 1 or 2 (a convolution's stride across; others are not run here). */
CK_AVX512 static void thin_block(int nv, int width, int step, int kc, const float *const a_blocks[3], const float *b,
                                 const size_t *row_offset, float *tile, int accumulate) {
    if (step == 1) { THIN_VECTORS(1) }
    else { THIN_VECTORS(2) }
}

/* Floats of scratch per strip of 48 rows: its tile, [column][row], read in whole vectors of
   16 columns when it is stored. */
static size_t tile_floats(int n) { return (size_t)STRIP * ((size_t)(n + 15) / 16 * 16); }

CK_AVX512 static void gemm_thin_avx512(const float *packed_a, int m, int first_row, int rows, int n, int k, thin_source src,
                                       float *c, size_t ldc, const ck_epilogue *epilogue, float *tiles) {
    const int mp = (m + MR - 1) / MR * MR, end = first_row + rows;
    const size_t per_strip = tile_floats(n);
    /* Each line's columns in equal blocks of at most 8. */
    const int line = src.line_length, blocks = (line + MAX_WIDTH - 1) / MAX_WIDTH, width = (line + blocks - 1) / blocks;
    /* Slab by slab of k, so that A streams past once, in its packed order, while B's rows for
       the slab stay in cache for every strip; each strip's sums wait in its tile. Within a
       strip, half a slab at a time, so that its A and B (up to 18 KB each) share L1. */
    const int slab = ck_pack_slab_width(k);
    for (int k0 = 0; k0 < k; k0 += slab) {
        const int kc = k - k0 < slab ? k - k0 : slab, half = (kc + 1) / 2;
        for (int m0 = first_row; m0 < end; m0 += STRIP) {
            const int nv = ((end - m0 < STRIP ? end - m0 : STRIP) + 15) / 16;
            float *tile = tiles + (size_t)((m0 - first_row) / STRIP) * per_strip;
            for (int i0 = 0; i0 < kc; i0 += half) {
                const int steps = kc - i0 < half ? kc - i0 : half;
                const float *a_blocks[3];
                for (int v = 0; v < nv; v++) {
                    const int first = m0 + MR * v;
                    a_blocks[v] = first < mp ? packed_a + (size_t)k0 * mp + (size_t)first * kc + (size_t)i0 * MR : zero_block;
                }
                const size_t *row_offset = src.row_offset + k0 + i0;
                for (int j0 = 0; j0 < n; j0 += line) {
                    const float *b = src.base + (size_t)(j0 / line) * src.line_pitch;
                    for (int p = 0; p < line; p += width) {
                        /* The last block may be narrower (a line of 19: 7, 7 and 5). */
                        const int cols = line - p < width ? line - p : width;
                        thin_block(nv, cols, src.step, steps, a_blocks, b + (size_t)p * src.step, row_offset, tile + (size_t)(j0 + p) * STRIP,
                                   k0 + i0 > 0);
                    }
                }
            }
        }
    }
    for (int m0 = first_row; m0 < end; m0 += STRIP) {
        const int strip = end - m0 < STRIP ? end - m0 : STRIP;
        const float *tile = tiles + (size_t)((m0 - first_row) / STRIP) * per_strip;
        for (int v = 0; v * 16 < strip; v++) {
            const int first = m0 + 16 * v, count = strip - 16 * v < 16 ? strip - 16 * v : 16;
            ck_transposed_epilogue e = {0, 0, 0, ldc, 0.0f, 0.0f};
            if (epilogue) {
                e.active = 1;
                e.bias = epilogue->bias ? epilogue->bias + first : 0;
                e.residual = epilogue->residual ? epilogue->residual + (size_t)first * ldc : 0;
                e.lo = epilogue->lo;
                e.hi = epilogue->hi;
            }
            ck_store_transposed(tile + 16 * v, STRIP, n, count, e, c + (size_t)first * ldc, ldc);
        }
    }
}

/* The thread's scratch: the strips' tiles, then k row offsets. */
static float *thin_scratch(int rows, int n, int k, size_t **row_offset) {
    const size_t tiles = (size_t)((rows + STRIP - 1) / STRIP) * tile_floats(n);
    const size_t offsets = ((size_t)k * sizeof(size_t) + sizeof(float) - 1) / sizeof(float);
    float *scratch = ck_thread_scratch(tiles + offsets);
    if (scratch) *row_offset = (size_t *)(scratch + tiles);
    return scratch;
}
#endif

/*
 * Whether C's n columns run faster here than in ck_gemm_packed, from the cycles per step of k
 * of each micro-kernel on one core (Sapphire Rapids, 2 FMA ports): ck_gemm_packed's blocks of
 * 48, 32 and 16 columns take 12, 8 and 4.5 cycles for 8 rows; this kernel reaches about 83 %
 * of the FMA ports with blocks of up to 7 columns, 76 % with 8 (measured, 512 rows, k 576 to
 * 4608). So 49 columns (74 % there, 83 % here) and 35 come here; 42, 56 and 64 stay.
 */
int ck_gemm_thin_preferred(int n) {
    if (n < 1 || n > 64) return 0;
    double wide_cycles = 0;
    for (int j = 0; j < n; j += 48) {
        const int cols = n - j < 48 ? n - j : 48;
        wide_cycles += cols > 32 ? 12.0 : cols > 16 ? 8.0 : 4.5;
    }
    const double wide = (n / 4.0) / wide_cycles;
    const int blocks = (n + MAX_WIDTH - 1) / MAX_WIDTH, width = (n + blocks - 1) / blocks;
    const double thin = (width == MAX_WIDTH ? 0.76 : 0.83) * n / (double)(blocks * width);
    return thin > 1.05 * wide;
}

int ck_gemm_packed_thin(const float *packed_a, int m, int first_row, int rows, int n, int k, const float *b, size_t ldb, float *c,
                        size_t ldc, const ck_epilogue *epilogue) {
    if (first_row < 0 || first_row % CK_PACK_MR != 0 || rows < 0 || first_row + rows > m || n < 0) return -3;
    /* Nothing to sum (or nothing to store): the general product's edge cases. */
    if (k == 0 || n == 0 || rows == 0) return ck_gemm_packed(packed_a, m, first_row, rows, n, k, b, ldb, c, ldc, epilogue);
#if CK_HAS_VARIANTS
    if (ck_level() == 2) {
        size_t *row_offset;
        float *tiles = thin_scratch(rows, n, k, &row_offset);
        if (!tiles) return -1;
        for (int i = 0; i < k; i++) row_offset[i] = (size_t)i * ldb;
        const thin_source src = {b, row_offset, n, 0, 1};
        gemm_thin_avx512(packed_a, m, first_row, rows, n, k, src, c, ldc, epilogue, tiles);
        return 0;
    }
#endif
    return -2;
}

int ck_conv_packed_thin(const float *packed_a, int m, int first_row, int rows, const float *x, int channels, const ck_window *g,
                        int first_out_row, int out_rows, float *out, size_t ldc, const ck_epilogue *epilogue) {
    if (first_row < 0 || first_row % CK_PACK_MR != 0 || rows < 0 || first_row + rows > m || channels < 1) return -3;
    if (g->pad_top != 0 || g->pad_left != 0 || g->out_height < 1 || g->out_width < 1
        || (size_t)(g->out_height - 1) * g->stride_h + (size_t)(g->kernel_h - 1) * g->dilation_h >= (size_t)g->height
        || (size_t)(g->out_width - 1) * g->stride_w + (size_t)(g->kernel_w - 1) * g->dilation_w >= (size_t)g->width)
        return -3;
    if (first_out_row < 0 || out_rows < 0 || first_out_row + out_rows > g->out_height) return -3;
    if (g->stride_w != 1 && g->stride_w != 2) return -2;
#if CK_HAS_VARIANTS
    if (ck_level() == 2) {
        const int n = out_rows * g->out_width, k = channels * g->kernel_h * g->kernel_w;
        if (rows == 0 || n == 0) return 0;
        size_t *row_offset;
        float *tiles = thin_scratch(rows, n, k, &row_offset);
        if (!tiles) return -1;
        /* Row i of the im2col matrix is tap (channel, ky, kx), in that order. */
        const size_t plane = (size_t)g->height * g->width;
        for (int ch = 0, i = 0; ch < channels; ch++)
            for (int ky = 0; ky < g->kernel_h; ky++)
                for (int kx = 0; kx < g->kernel_w; kx++, i++)
                    row_offset[i] = ch * plane + (size_t)ky * g->dilation_h * g->width + (size_t)kx * g->dilation_w;
        const size_t line_pitch = (size_t)g->stride_h * g->width;
        const thin_source src = {x + (size_t)first_out_row * line_pitch, row_offset, g->out_width, line_pitch, g->stride_w};
        /* The band's residual is read where its output goes. */
        ck_epilogue band = epilogue ? *epilogue : (ck_epilogue){0, 0, 0.0f, 0.0f};
        const size_t first = (size_t)first_out_row * g->out_width;
        if (band.residual) band.residual += first;
        gemm_thin_avx512(packed_a, m, first_row, rows, n, k, src, out + first, ldc, epilogue ? &band : 0, tiles);
        return 0;
    }
#endif
    return -2;
}
