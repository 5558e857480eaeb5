/* The layout ck_gemm_pack_a gives A, shared by the products that read it (gemm_packed.c,
   gemm_thin.c). Not part of the module's API. */
#pragma once
#include "CKernels.h"

/* Slabs of PACK_KC columns of A, each in blocks of PACK_MR rows: [k/KC][m/MR][kc][MR], with
   zero rows up to a multiple of PACK_MR. Sixteen rows, so that the thin product loads a whole
   vector of rows at once (one load instead of two halves and a shuffle: 12–14 % faster on one
   core), while the wide product reads each block as two halves of 8. */
enum { CK_PACK_MR = CK_PACKED_ROW_BLOCK, CK_PACK_KC = 128 };

/* Whether ck_gemm_packed should hand a product with n columns to ck_gemm_packed_thin (faster
   there, same result). */
int ck_gemm_thin_preferred(int n);
