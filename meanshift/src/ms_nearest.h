/* The nearest of a few centers for a block of points (label assignment). */
#ifndef MEANSHIFT_MS_NEAREST_H
#define MEANSHIFT_MS_NEAREST_H

#include "ms_simd.h"

#define MS_BLOCK 32

/* Nearest of kc centers (C: kc x d, row-major) for a block of
   MS_BLOCK points stored by coordinate (xs[k * MS_BLOCK + p]): the
   loops run over the points of the block, innermost, so they
   vectorise; each distance is still summed in coordinate order, and
   the strict comparison keeps the first (strongest) center on ties.
   best/bi come in initialised (INFINITY, 0). */
#if defined(__GNUC__) || defined(__clang__)
/* Eight points at a time held in registers (two vectors of four
   lanes) while every center goes by: their distances, best distances
   and best indices never go through memory.  The same operations in
   the same order as the portable loop below. */
typedef long long ms_v4l __attribute__((vector_size(32)));
MS_CLONES static void ms_nearest_block(const double *MS_RESTRICT xs,
                                       Py_ssize_t d,
                                       const double *MS_RESTRICT C,
                                       Py_ssize_t kc,
                                       double *MS_RESTRICT dist,
                                       double *MS_RESTRICT best,
                                       Py_ssize_t *MS_RESTRICT bi)
{
    (void)dist;
    for (Py_ssize_t p = 0; p < MS_BLOCK; p += 8) {
        ms_v4d b0 = ms_load4(best + p), b1 = ms_load4(best + p + 4);
        ms_v4l i0 = {0, 0, 0, 0}, i1 = i0;
        for (Py_ssize_t j = 0; j < kc; j++) {
            const double *c = C + j * d;
            ms_v4d t0 = ms_load4(xs + p) - c[0];
            ms_v4d t1 = ms_load4(xs + p + 4) - c[0];
            ms_v4d d0 = t0 * t0, d1 = t1 * t1;
            for (Py_ssize_t k = 1; k < d; k++) {
                const double *x = xs + k * MS_BLOCK + p;
                t0 = ms_load4(x) - c[k];
                t1 = ms_load4(x + 4) - c[k];
                d0 += t0 * t0;
                d1 += t1 * t1;
            }
            ms_v4l m0 = d0 < b0, m1 = d1 < b1;   /* strict: first wins ties */
            ms_v4l jj = {j, j, j, j};
            b0 = (ms_v4d)(((ms_v4l)d0 & m0) | ((ms_v4l)b0 & ~m0));
            b1 = (ms_v4d)(((ms_v4l)d1 & m1) | ((ms_v4l)b1 & ~m1));
            i0 = (jj & m0) | (i0 & ~m0);
            i1 = (jj & m1) | (i1 & ~m1);
        }
        __builtin_memcpy(best + p, &b0, sizeof b0);
        __builtin_memcpy(best + p + 4, &b1, sizeof b1);
        for (int q = 0; q < 4; q++) {
            bi[p + q] = (Py_ssize_t)i0[q];
            bi[p + 4 + q] = (Py_ssize_t)i1[q];
        }
    }
}
#else
MS_CLONES static void ms_nearest_block(const double *MS_RESTRICT xs,
                                       Py_ssize_t d,
                                       const double *MS_RESTRICT C,
                                       Py_ssize_t kc,
                                       double *MS_RESTRICT dist,
                                       double *MS_RESTRICT best,
                                       Py_ssize_t *MS_RESTRICT bi)
{
    for (Py_ssize_t j = 0; j < kc; j++) {
        const double *c = C + j * d;
        for (Py_ssize_t p = 0; p < MS_BLOCK; p++) {
            double t = xs[p] - c[0];
            dist[p] = t * t;
        }
        for (Py_ssize_t k = 1; k < d; k++) {
            const double ck = c[k];
            const double *MS_RESTRICT x = xs + k * MS_BLOCK;
            for (Py_ssize_t p = 0; p < MS_BLOCK; p++) {
                double t = x[p] - ck;
                dist[p] += t * t;
            }
        }
        for (Py_ssize_t p = 0; p < MS_BLOCK; p++) {
            int closer = dist[p] < best[p];
            best[p] = closer ? dist[p] : best[p];
            bi[p] = closer ? j : bi[p];
        }
    }
}
#endif

#endif /* MEANSHIFT_MS_NEAREST_H */
