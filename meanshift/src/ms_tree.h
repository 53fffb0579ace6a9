/* Small helpers of the flat-array trees. */
#ifndef MEANSHIFT_MS_TREE_H
#define MEANSHIFT_MS_TREE_H

/* floor(log2(x)) for x >= 1: the level of tree node x - 1 */
#if defined(__GNUC__) || defined(__clang__)
static inline int ms_floor_log2(unsigned long long x)
{ return 63 - __builtin_clzll(x); }
#elif defined(_MSC_VER) && defined(_WIN64)
#include <intrin.h>
static inline int ms_floor_log2(unsigned long long x)
{ unsigned long i; _BitScanReverse64(&i, x); return (int)i; }
#else
static inline int ms_floor_log2(unsigned long long x)
{ int r = 0; while (x >>= 1) r++; return r; }
#endif

#endif /* MEANSHIFT_MS_TREE_H */
