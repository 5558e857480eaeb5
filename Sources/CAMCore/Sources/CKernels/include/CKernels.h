// Hot loops of the runtime compiled for the CPU they run on: each function is built in an
// AVX-512, an AVX2 and a baseline version, and the loader picks the best one the machine has
// (dispatch.h). Swift itself is compiled for the x86-64 baseline.
#pragma once
#include <stddef.h>

/// The geometry of a 2-D sliding window over one plane.
typedef struct {
    int height, width, out_height, out_width;
    int kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left;
} ck_window;

/// out[oy, ox] = min(max(Σ w[ky, kx] · x[oy·sh − pt + ky·dh, ox·sw − pl + kx·dw] + bias, lo), hi)
/// (one depthwise plane, taps summed in (ky, kx) order). Returns 0, or −1 when out of memory.
int ck_depthwise_plane(const float *x, const float *weights, const ck_window *g, float *out, float bias, float lo, float hi);

/// The transpose: gin[iy, ix] += w[ky, kx] · gout[oy, ox] over the same taps.
void ck_depthwise_plane_transposed(const float *gout, const float *weights, const ck_window *g, float *gin);

/// Max pooling of one plane: out[oy, ox] = the largest x over the window's positions inside the
/// plane (NaN if any is NaN; −∞ if none is inside). AVX-512, no dilation, strides across of 1 or
/// 2: returns 0; −1 when out of memory; −2 for other windows and CPUs (pool it another way).
int ck_maxpool_plane(const float *x, const ck_window *g, float *out);

/// v[i] = min(max(v[i] + bias, lo), hi) for n values (bias and activation after a convolution).
void ck_bias_clamp(float *v, size_t n, float bias, float lo, float hi);

/// v[i] += bias for n values.
void ck_bias(float *v, size_t n, float bias);

/// v[i] = min(max((v[i] + bias) + r[i], lo), hi) for n values (a convolution's bias, a residual
/// added to it, and the activation).
void ck_bias_residual_clamp(float *v, const float *r, size_t n, float bias, float lo, float hi);

/// The arithmetic of ck_binary.
typedef enum { CK_ADD = 0, CK_SUB = 1, CK_MUL = 2, CK_DIV = 3 } ck_arithmetic;

/// out[i] = a[i·a_step] op b[i·b_step] for n values; a_step and b_step are 0 (a broadcast
/// scalar) or 1.
void ck_binary(ck_arithmetic op, const float *a, int a_step, const float *b, int b_step, float *out, size_t n);

/// out[i] = erf(x[i]): a rational approximation on [−4, 4] (erf is ±1 in float beyond),
/// within 4.2e-7 of the exact value; vectorised, unlike libm's erff.
void ck_erf(const float *x, float *out, size_t n);

/// out[i] = 0.5 · x · (1 + erf(x / √2)) (GELU), with ck_erf's erf.
void ck_gelu(const float *x, float *out, size_t n);

/// Winograd F(tile×tile, 3×3), tile 2 or 4: the transforms around its (tile + 2)² matrix
/// products (see winograd.c). Filters: w is (m, c, 3, 3); u[ξ][o][i] for ξ < (tile + 2)² is
/// the transform of filter (o, i) — (m × c) matrices, or with `transposed` the (c × m)
/// filters of the transposed convolution (w[i][o] turned by 180°).
void ck_winograd_filters(const float *w, int m, int c, int transposed, int tile, float *u);

/// Several planes of one channel laid side by side as one wide plane (a strip): plane n, at
/// base + n·stride, starts at column n·period; the columns between planes are zero. Small
/// planes (a deep layer's 7 × 7) then fill whole vectors of tiles. A single plane is
/// {1, 0, 0}.
typedef struct {
    int planes, period;
    size_t stride;
} ck_strip;

/// One input strip (planes of h × w, each read with pad_top / pad_left zeros before it and
/// zeros after) as tiles_h × tiles_w (tile + 2)² tiles with stride `tile`: writes
/// v[ξ·xi_stride + ty·tiles_w + tx]. Returns 0, or −1 when its scratch cannot be allocated.
int ck_winograd_input(const float *x, int h, int w, int pad_top, int pad_left, int tile, int tiles_h, int tiles_w, float *v,
                      size_t xi_stride, ck_strip strip);

/// One output strip from its (tile + 2)² products m[ξ·xi_stride + tile index]: writes each
/// plane's out_h × out_w values y = min(max(value + bias, lo), hi), plane n from the strip's
/// columns n·period on. Returns 0, or −1 when out of memory.
int ck_winograd_output(const float *m, size_t xi_stride, int tile, int tiles_h, int tiles_w, float *y, int out_h, int out_w,
                       float bias, float lo, float hi, ck_strip strip);

/// Whether ck_gemm_packed runs on this CPU (AVX-512, and SWIFTCAM_KERNELS not lowering it).
int ck_gemm_packed_available(void);

/// Whether ck_gemm_packed multiplies a B of n columns in its thin form, C's rows in vector
/// lanes (gemm_thin.c): n up to 64 where its cycle model beats the wide micro-kernel.
int ck_gemm_packed_thin_columns(int n);

/// Rows per block of a matrix packed by ck_gemm_pack_a; products shared among threads by rows
/// start each share at a multiple of it.
enum { CK_PACKED_ROW_BLOCK = 16 };

/// Floats A (m × k) takes when packed for ck_gemm_packed: m rounded up to 16, times k.
size_t ck_gemm_packed_size(int m, int k);

/// Packs A (m × k, row pitch lda) for ck_gemm_packed: slabs of up to 192 columns (of even width) in blocks of 16 rows,
/// the rows after m zero (see gemm_packed.c).
void ck_gemm_pack_a(const float *a, size_t lda, int m, int k, float *packed);

/// What ck_gemm_packed applies to each value of C as it stores it:
/// min(max((v + bias[row]) + residual, lo), hi) — a convolution's bias, a residual added after
/// it and its activation, as ck_bias_residual_clamp does. `bias` (indexed by C's row) and
/// `residual` (laid out as C, with C's pitch) may be NULL.
typedef struct {
    const float *bias, *residual;
    float lo, hi;
} ck_epilogue;

/// Whether ck_depthwise_channels runs for g on this CPU (AVX-512, no dilation, kernels up to 32
/// rows high).
int ck_depthwise_channels_available(const ck_window *g);

/// Depthwise convolution of `channels` (1 … 16) consecutive planes at once, output rows
/// first_row ..< first_row + rows: out[c, oy, ox] as ck_depthwise_plane computes it (but each
/// sum started from the bias and taken with fused multiply-adds, so rounded differently), with
/// the epilogue's bias (indexed by channel, from the block's first) and residual (laid out as
/// `out`) applied. `x`, `weights` (kh·kw per channel) and `out` start at the block's first
/// channel. Returns 0; −1 when out of memory; −2 when not available; −3 for bad rows or channels.
int ck_depthwise_channels(const float *x, const float *weights, const ck_window *g, int channels, int first_row, int rows,
                          const ck_epilogue *epilogue, float *out);

/// Rows first_row ..< first_row + rows of C (m × n, row pitch ldc) = A · B, with A packed by
/// ck_gemm_pack_a and B (k × n) row-major with pitch ldb; first_row a multiple of 8 (so that
/// threads can share a product by blocks of rows; of 16 for the thin form to be used);
/// `epilogue` applied as C is stored, or NULL.
/// Returns 0; −1 when out of memory; −2 when not available on this CPU; −3 for rows outside A.
int ck_gemm_packed(const float *packed_a, int m, int first_row, int rows, int n, int k, const float *b, size_t ldb, float *c,
                   size_t ldc, const ck_epilogue *epilogue);

/// The same product for thin B (few columns, such as a late layer's 7 × 7 plane): C's rows in
/// vector lanes and B read in place, so no lanes go to waste on a last, nearly empty block of
/// columns. Same arguments, results and rounding as ck_gemm_packed, but first_row a multiple
/// of 16.
int ck_gemm_packed_thin(const float *packed_a, int m, int first_row, int rows, int n, int k, const float *b, size_t ldb, float *c,
                        size_t ldc, const ck_epilogue *epilogue);

/// A convolution as the thin product, reading its input in place as the im2col matrix (an
/// implicit GEMM): rows first_row ..< first_row + rows (output channels; a multiple of 16) and
/// output rows first_out_row ..< first_out_row + out_rows (a band of each plane) of
/// out (m × out_height·out_width, ldc floats from one channel to the next) = A · im2col(x), A the (m × channels·kh·kw) filters packed by
/// ck_gemm_pack_a, then `epilogue`. x is `channels` planes of g's height × width that already
/// hold the padding: g's pads must be 0 and every tap inside the plane. Same results and
/// rounding as ck_gemm_packed on the im2col matrix. Returns 0; −1 when out of memory; −2 when
/// not available (no AVX-512, or a stride across other than 1 or 2); −3 for bad rows or
/// geometry.
int ck_conv_packed_thin(const float *packed_a, int m, int first_row, int rows, const float *x, int channels, const ck_window *g,
                        int first_out_row, int out_rows, float *out, size_t ldc, const ck_epilogue *epilogue);

/// Planes first_plane ..< first_plane + planes of x (each h × w) copied into out (each ph × pw)
/// at row pad_top and column pad_left, zero around them; rows and columns of x beyond out are
/// dropped.
void ck_pad_planes(const float *x, int h, int w, int pad_top, int pad_left, int ph, int pw, long first_plane, long planes, float *out);

/// Floats B (k × n) takes when packed for ck_gemm_packed_b: k times n rounded up to 16.
size_t ck_gemm_packed_b_size(int k, int n);

/// Packs B (k × n, row pitch ldb) for ck_gemm_packed_b: slabs of 128 rows in panels of 16
/// columns, the columns after n zero (see gemm_packed.c).
void ck_gemm_pack_b(const float *b, size_t ldb, int k, int n, float *packed);

/// The same packing of B given as its transpose: bt is n × k, row pitch ld (attention's keys,
/// one per row, as the columns of kᵀ).
void ck_gemm_pack_b_transposed(const float *bt, size_t ld, int k, int n, float *packed);

/// Rows first_row ..< first_row + rows and columns first_col ..< first_col + cols of C (m × n,
/// row pitch ldc) = R + bias + A · B, or with `accumulate` C + A · B, with A (m × k) row-major
/// with pitch lda and B packed by ck_gemm_pack_b (a layer's weights, on the right); first_col
/// a multiple of 16. `bias` (n values, one per column) and the residual R (laid out as C) may
/// be NULL: a projection's bias and the Add after it, summed as (R + bias) + A · B. With `gelu`,
/// each finished block of C is then replaced by its GELU (as ck_gelu), while in cache. Returns 0;
/// −2 when not available on this CPU; −3 for a block outside C.
int ck_gemm_packed_b(const float *a, size_t lda, int first_row, int rows, int first_col, int cols, int n, int k,
                     const float *packed_b, float *c, size_t ldc, int accumulate, const float *bias, const float *residual,
                     int gelu);

/// One head of attention: out (n_q × dv, row pitch ldo) = softmax(alpha · q·kᵀ) · v, the softmax
/// along each row, with q n_q × d (pitch ldq), v n_k × dv (pitch ldv) and the keys k as rows
/// (n_k × d, pitch ldk) or, with keys_transposed, as columns (d × n_k). The scores stay in L1,
/// a block of rows at a time; the values are those of the product, ck_softmax_rows and the
/// product run one after another (see attention.c). Returns 0; −1 when out of memory; −2 when
/// not available on this CPU (no AVX-512); −3 for a negative size.
int ck_attention_head(const float *q, size_t ldq, const float *k, size_t ldk, int keys_transposed, const float *v, size_t ldv,
                      int n_q, int n_k, int d, int dv, float alpha, float *out, size_t ldo);

/// Softmax of each of `rows` contiguous rows of n values (out may not alias x); exp within
/// 2 ulp of expf, vectorised, and 0 (not subnormal) below e^−87.3.
void ck_softmax_rows(const float *x, float *out, size_t rows, size_t n);

/// Layer normalisation of `rows` rows of n values: out = (x − mean) · inv_std · gamma (+ beta,
/// when given), with mean and inv_std = 1/√(var + eps) of each row written out.
void ck_layernorm_rows(const float *x, const float *gamma, const float *beta, float *out, float *mean, float *inv_std,
                       size_t rows, size_t n, float eps);

/// A task of ck_parallel, run once for each index.
typedef void (*ck_parallel_task)(void *context, long index);

/// Runs task(context, i) for every i in 0 ..< count on at most `threads` threads, the calling
/// thread included, and returns 0 when all have run (thread_pool.c: workers that spin between
/// loops rather than sleep). Returns 1, having run nothing, when the pool is busy with another
/// thread's loop or this is called from inside a task; the caller then runs the loop another way.
int ck_parallel(long count, int threads, ck_parallel_task task, void *context);

/// ck_parallel with each index on its own thread, always the same one: index 0 on the calling
/// thread, index i on the pool's i-th worker (count ≤ threads). Consecutive loops cut alike
/// then hand each thread the data it wrote in the last one, which the first-come order of
/// ck_parallel does not promise. Returns 1, having run nothing, where ck_parallel would, and
/// when count is larger than the threads.
int ck_parallel_pinned(long count, int threads, ck_parallel_task task, void *context);
