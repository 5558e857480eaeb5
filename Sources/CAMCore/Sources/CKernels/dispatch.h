/* Picking a kernel variant for the CPU at run time; shared by the C kernel files. */
#pragma once

/* 2: AVX-512, 1: AVX2, 0: baseline (lowered by SWIFTCAM_KERNELS=baseline|avx2). */
int ck_level(void);

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#define CK_HAS_VARIANTS 1
#define CK_AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")))
#define CK_AVX2 __attribute__((target("avx2,fma")))
#define DISPATCH(name, ...)                                                                         \
    switch (ck_level()) {                                                                           \
    case 2: name##_avx512(__VA_ARGS__); return;                                                     \
    case 1: name##_avx2(__VA_ARGS__); return;                                                       \
    default: name##_baseline(__VA_ARGS__); return;                                                  \
    }
/* The same, for kernels that return a status. */
#define DISPATCH_RESULT(name, ...)                                                                  \
    switch (ck_level()) {                                                                           \
    case 2: return name##_avx512(__VA_ARGS__);                                                      \
    case 1: return name##_avx2(__VA_ARGS__);                                                        \
    default: return name##_baseline(__VA_ARGS__);                                                   \
    }
#else
#define CK_HAS_VARIANTS 0
#define DISPATCH(name, ...) name##_baseline(__VA_ARGS__);
#define DISPATCH_RESULT(name, ...) return name##_baseline(__VA_ARGS__);
#endif
