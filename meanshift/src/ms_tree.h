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


#include <Python.h>
#include <stdint.h>

/* Morton order of a subtree's rows in one or two columns.

   The rows of a subtree (dealt to it by the sample planes) are ordered by
   their Morton key within their own box (each coordinate scaled to 16 bits
   and the two interleaved; one column: scaled to 32 bits) by a stable
   radix sort, four passes of eight bits over the keys, and the subtree is
   then split at the middle of each range: a k-d tree whose splits
   alternate between the two coordinates at the quadrants of the box, built
   in a few passes over cache-resident rows instead of a selection per
   level.  Equal keys keep their rows' order. */
static inline uint64_t ms_spread16(uint64_t x)
{
    x &= 0xFFFFu;
    x = (x | (x << 8)) & 0x00FF00FFu;
    x = (x | (x << 4)) & 0x0F0F0F0Fu;
    x = (x | (x << 2)) & 0x33333333u;
    x = (x | (x << 1)) & 0x55555555u;
    return x;
}

/* t scaled into [0, top] (0 for NaN: a box of infinite width scales by 0) */
static inline uint64_t ms_quantize(double t, double top)
{
    if (!(t > 0.0))
        return 0;
    if (t >= top)
        return (uint64_t)top;
    return (uint64_t)t;
}

/* The Morton order of the m rows (d = 1 or 2 columns, row-major): returns
   order, order[j] the row (0 to m - 1) that comes j-th, written over one
   of a and b (scratch of m keys each, the only memory it takes). */
#define MS_MORTON_ORDER(NAME, T)                                        \
static Py_ssize_t *NAME(const T *rows, Py_ssize_t m, int d, uint64_t *a, \
                        uint64_t *b)                                    \
{                                                                       \
    double lo[2] = {0.0, 0.0}, hi[2] = {0.0, 0.0}, scale[2];            \
    double top = d == 1 ? 4294967295.0 : 65535.0;                       \
    Py_ssize_t cnt[256];                                                \
    for (int k = 0; k < d; k++) {                                       \
        lo[k] = hi[k] = (double)rows[k];                                \
        for (Py_ssize_t i = 1; i < m; i++) {                            \
            double v = (double)rows[i * d + k];                         \
            if (v < lo[k]) lo[k] = v;                                   \
            if (v > hi[k]) hi[k] = v;                                   \
        }                                                               \
        scale[k] = hi[k] > lo[k] ? top / (hi[k] - lo[k]) : 0.0;         \
    }                                                                   \
    for (Py_ssize_t i = 0; i < m; i++) {                                \
        uint64_t key;                                                   \
        if (d == 1)                                                     \
            key = ms_quantize(((double)rows[i] - lo[0]) * scale[0], top); \
        else                                                            \
            key = ms_spread16(ms_quantize(                              \
                      ((double)rows[2 * i] - lo[0]) * scale[0], top))   \
                  | (ms_spread16(ms_quantize(                           \
                      ((double)rows[2 * i + 1] - lo[1]) * scale[1],     \
                      top)) << 1);                                      \
        a[i] = (key << 32) | (uint64_t)i;                               \
    }                                                                   \
    for (int shift = 32; shift < 64; shift += 8) {                      \
        Py_ssize_t run = 0;                                             \
        int skip = 0;                                                   \
        for (int c = 0; c < 256; c++) cnt[c] = 0;                       \
        for (Py_ssize_t i = 0; i < m; i++) cnt[(a[i] >> shift) & 255]++; \
        for (int c = 0; c < 256; c++) {                                 \
            Py_ssize_t n_c = cnt[c];                                    \
            if (n_c == m) skip = 1;   /* one value: order unchanged */  \
            cnt[c] = run;                                               \
            run += n_c;                                                 \
        }                                                               \
        if (skip) continue;                                             \
        for (Py_ssize_t i = 0; i < m; i++)                              \
            b[cnt[(a[i] >> shift) & 255]++] = a[i];                     \
        uint64_t *t = a; a = b; b = t;                                  \
    }                                                                   \
    Py_ssize_t *order = (Py_ssize_t *)b;                                \
    for (Py_ssize_t i = 0; i < m; i++)                                  \
        order[i] = (Py_ssize_t)(a[i] & 0xFFFFFFFFu);                    \
    return order;                                                       \
}
MS_MORTON_ORDER(ms_morton_order_f64, double)
MS_MORTON_ORDER(ms_morton_order_f32, float)

#endif /* MEANSHIFT_MS_TREE_H */
