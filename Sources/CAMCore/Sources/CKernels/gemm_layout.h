/* The layout ck_gemm_pack_a gives A, shared by the products that read it (gemm_packed.c,
   gemm_thin.c). Not part of the module's API. */
#pragma once
#include "CKernels.h"

/* Slabs of columns of A, each in blocks of PACK_MR rows: [slab][m/MR][kc][MR], with zero rows
   up to a multiple of PACK_MR. Sixteen rows, so that the thin product loads a whole vector of
   rows at once (one load instead of two halves and a shuffle: 12–14 % faster on one core),
   while the wide product reads each block as two halves of 8. */
enum { CK_PACK_MR = CK_PACKED_ROW_BLOCK, CK_PACK_KC = 192 };

/* Columns per slab for a product with k columns (the last slab may be narrower): as few slabs
   as CK_PACK_KC allows, of even width. Every slab after the first reloads its block of C, so
   a product is not cut into 128 + 16 (EfficientNet's k = 144) or 640 + 32 (k = 672). Slab s
   starts at column s · width, and at s · width · (rows rounded up to PACK_MR) in the packing. */
static inline int ck_pack_slab_width(int k) {
    const int slabs = (k + CK_PACK_KC - 1) / CK_PACK_KC;
    return slabs > 0 ? (k + slabs - 1) / slabs : 1;
}

/* Whether ck_gemm_packed should hand a product with n columns to ck_gemm_packed_thin (faster
   there, same result). */
int ck_gemm_thin_preferred(int n);
