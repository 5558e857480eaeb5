#include "dispatch.h"
#include "scratch.h"
#include "CKernels.h"
#include "transpose16.h"

/*
 * Depthwise convolution sixteen channels at a time, one channel per lane (AVX-512).
 *
 * The plane-at-a-time kernel (depthwise_avx512.c) puts 16 output columns in a vector, which
 * wastes most lanes on the small planes of a network's late stages (7 of 16 on a 7 × 7 plane)
 * and pays per plane for masks and row bounds. Here each input row of a block of 16 channels
 * is transposed once into a ring of the kernel's height of rows, [column][channel], with the
 * padding columns left zero. Every tap of every output pixel is then one load and one
 * multiply-add on 16 channels, with no waste whatever the plane's width, and the ring stays in
 * L1. Each output row is transposed back into the 16 planes as the bias, residual and
 * activation are applied.
 *
 * Each sum starts from the channel's bias and adds the taps in (ky, kx) order with fused
 * multiply-adds, as oneDNN's depthwise kernels (PyTorch's on the CPU) do; rows outside the plane
 * are skipped and columns outside it read zeros. Separate multiplies and adds from zero, as
 * the plane-at-a-time kernels round, took EfficientNet-Lite0 4.65–4.70 ms at batch 1 against
 * 4.39–4.45 (2 threads). (Fused from zero, with the bias added last, was as fast but further
 * from pytorch-grad-cam's GradCAM++ references: 4.4e-3 on RefineCAM's first layer and 0.044 on
 * DBNet, against 1.1e-3 and 0.0125 from the bias.)
 */

#if CK_HAS_VARIANTS
#include <immintrin.h>

enum { LANES = 16, PIXELS = 8, MAX_KERNEL_ROWS = 32 };

int ck_depthwise_channels_available(const ck_window *g) {
    return ck_level() == 2 && g->dilation_h == 1 && g->dilation_w == 1 && g->kernel_h <= MAX_KERNEL_ROWS && g->stride_h >= 1 &&
           g->stride_w >= 1;
}

/* Input row iy of the block's channels into `dst` ([column][channel], the row's first column).
   Lanes past the last channel repeat it (their filter taps are zero and their sums are never
   stored), which keeps the loads free of branches. The loops over 16 are unrolled in full, so
   that every vector is indexed by a constant and stays in a register. */
CK_AVX512 static void load_row(const float *x, size_t plane, int width, int channels, int iy, float *dst) {
    for (int col = 0; col < width; col += LANES) {
        const int count = width - col < LANES ? width - col : LANES;
        const __mmask16 m = ck_first_lanes(count);
        const float *row = x + (size_t)iy * width + col;
        __m512 r[LANES];
#pragma clang loop unroll(full)
        for (int ch = 0; ch < LANES; ch++) r[ch] = _mm512_maskz_loadu_ps(m, row + (ch < channels ? ch : channels - 1) * plane);
        ck_transpose16(r);
#pragma clang loop unroll(full)
        for (int j = 0; j < LANES; j++)
            if (j < count) _mm512_store_ps(dst + (size_t)(col + j) * LANES, r[j]);
    }
}

CK_AVX512 static void depthwise_channels_avx512(const float *x, const float *weights, const ck_window *g, int channels,
                                                const ck_epilogue *e, float *out, int first_row, int rows, float *scratch,
                                                int ring_width) {
    const int h = g->height, w = g->width, ow = g->out_width, kh = g->kernel_h, kw = g->kernel_w;
    const int sh = g->stride_h, sw = g->stride_w, taps = kh * kw;
    const size_t in_plane = (size_t)h * w, out_plane = (size_t)g->out_height * ow;
    float *filter = scratch, *ring = filter + (size_t)taps * LANES, *sums = ring + (size_t)kh * ring_width * LANES;

    /* filter[tap][channel], zero for the lanes past the last channel. */
    for (int t = 0; t < taps; t++)
        for (int ch = 0; ch < LANES; ch++) filter[t * LANES + ch] = ch < channels ? weights[(size_t)ch * taps + t] : 0.0f;
    for (size_t i = 0; i < (size_t)kh * ring_width * LANES; i++) ring[i] = 0.0f;
    /* Every sum starts from its channel's bias (zero past the last channel). */
    const __m512 start = e->bias ? _mm512_maskz_loadu_ps(ck_first_lanes(channels), e->bias) : _mm512_setzero_ps();
    int held[MAX_KERNEL_ROWS];
    for (int i = 0; i < kh; i++) held[i] = -1;

    for (int oy = first_row; oy < first_row + rows; oy++) {
        const float *tap_rows[MAX_KERNEL_ROWS];
        for (int ky = 0; ky < kh; ky++) {
            const int iy = oy * sh - g->pad_top + ky;
            tap_rows[ky] = NULL;
            if (iy < 0 || iy >= h) continue;
            /* kh consecutive rows fall in distinct slots, so a slot holds at most one needed row. */
            float *slot = ring + (size_t)(iy % kh) * ring_width * LANES;
            if (held[iy % kh] != iy) {
                load_row(x, in_plane, w, channels, iy, slot + (size_t)g->pad_left * LANES);
                held[iy % kh] = iy;
            }
            tap_rows[ky] = slot;
        }
        /* Eight pixels at a time: independent sums, so the adds' latency overlaps. The last group
           may run past the row into the ring's spare zero columns; those sums are not stored. */
        for (int ox = 0; ox < ow; ox += PIXELS) {
            __m512 acc[PIXELS];
            for (int p = 0; p < PIXELS; p++) acc[p] = start;
            for (int ky = 0; ky < kh; ky++) {
                const float *row = tap_rows[ky];
                if (!row) continue;
                for (int kx = 0; kx < kw; kx++) {
                    const __m512 wv = _mm512_load_ps(filter + (ky * kw + kx) * LANES);
                    const float *v = row + (size_t)(ox * sw + kx) * LANES;
                    for (int p = 0; p < PIXELS; p++)
                        acc[p] = _mm512_fmadd_ps(wv, _mm512_load_ps(v + (size_t)p * sw * LANES), acc[p]);
                }
            }
            for (int p = 0; p < PIXELS; p++) _mm512_store_ps(sums + (size_t)(ox + p) * LANES, acc[p]);
        }
        /* The row's sums ([pixel][channel]) through the rest of the epilogue (the bias is in
           them already) into the block's planes. */
        const size_t offset = (size_t)oy * ow;
        const ck_transposed_epilogue te = {1, NULL, e->residual ? e->residual + offset : NULL, out_plane, e->lo, e->hi};
        ck_store_transposed(sums, LANES, ow, channels, te, out + offset, out_plane);
    }
}

int ck_depthwise_channels(const float *x, const float *weights, const ck_window *g, int channels, int first_row, int rows,
                          const ck_epilogue *epilogue, float *out) {
    if (!ck_depthwise_channels_available(g)) return -2;
    if (channels < 1 || channels > LANES || first_row < 0 || rows < 0 || first_row + rows > g->out_height) return -3;
    if (rows == 0) return 0;
    /* Columns the ring holds: the plane with its padding, and enough for the last group of
       pixels to read past the row. Sums are kept for whole vectors of pixels. */
    const int groups = (g->out_width + PIXELS - 1) / PIXELS;
    int ring_width = (groups * PIXELS - 1) * g->stride_w + g->kernel_w;
    if (ring_width < g->pad_left + g->width) ring_width = g->pad_left + g->width;
    const int sum_width = (g->out_width + LANES - 1) / LANES * LANES;
    const size_t floats = (size_t)g->kernel_h * g->kernel_w * LANES + (size_t)g->kernel_h * ring_width * LANES + (size_t)sum_width * LANES;
    float *scratch = ck_thread_scratch(floats);
    if (!scratch) return -1;
    depthwise_channels_avx512(x, weights, g, channels, epilogue, out, first_row, rows, scratch, ring_width);
    return 0;
}

#else

int ck_depthwise_channels_available(const ck_window *g) { (void)g; return 0; }
int ck_depthwise_channels(const float *x, const float *weights, const ck_window *g, int channels, int first_row, int rows,
                          const ck_epilogue *epilogue, float *out) {
    (void)x; (void)weights; (void)g; (void)channels; (void)first_row; (void)rows; (void)epilogue; (void)out;
    return -2;
}

#endif
