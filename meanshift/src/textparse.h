/*
 * Decimal text to float64, correctly rounded, and a table of such numbers
 * parsed in one pass: the compiled half of meanshift/_textparse.pyx.
 *
 * A number is read into at most 19 significant decimal digits w and a
 * decimal exponent q, and w * 10**q is rounded to the nearest double (ties
 * to even) by one of two exact routes:
 *
 *  - w <= 2**53 and |q| <= 22: w and 10**|q| are both doubles, so one IEEE
 *    multiplication or division rounds the exact value once (Clinger);
 *  - otherwise the product of w with a 128-bit power of five rounded down
 *    (src/pow5_table.py) gives a 192-bit value P within 2**64 below the
 *    exact one E.  The rounding of E is decided by P unless a halfway point
 *    between two doubles lies within that gap, which is rare (about 2**-70
 *    of random inputs, and exact ties such as 4503599627370496.5); for
 *    0 <= q <= 55 the power is exact, and so is P.  This is the Eisel-Lemire
 *    algorithm (D. Lemire, "Number parsing at a gigabyte per second",
 *    Software: Practice and Experience 51(8), 2021), with a conservative
 *    test for "cannot decide".
 *
 * What neither route decides (more than 19 significant digits, exponents
 * outside the table, the few undecided products) and every token that is
 * not a plain decimal (inf, nan, infinity and anything else) is *deferred*:
 * its place in the text is recorded, and the caller, holding the GIL,
 * converts it with PyOS_string_to_double, the routine numpy.loadtxt uses,
 * so those values have loadtxt's bits by construction.
 *
 * Nothing here touches a Python object; every function is safe without
 * the GIL and reads the text only up to its final newline.
 */
#ifndef MEANSHIFT_TEXTPARSE_H
#define MEANSHIFT_TEXTPARSE_H

#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "_pow5_table.h"

/* ---------------------------------------------------------------------
 * 64 x 64 -> 128-bit products and leading zeros
 * --------------------------------------------------------------------- */

static inline uint64_t
ms_mul64(uint64_t a, uint64_t b, uint64_t *hi)
{
#if defined(__SIZEOF_INT128__)
    unsigned __int128 p = (unsigned __int128)a * b;
    *hi = (uint64_t)(p >> 64);
    return (uint64_t)p;
#else
    uint64_t a0 = a & 0xffffffffu, a1 = a >> 32;
    uint64_t b0 = b & 0xffffffffu, b1 = b >> 32;
    uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    uint64_t mid = (p00 >> 32) + (p01 & 0xffffffffu) + (p10 & 0xffffffffu);
    *hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
    return (mid << 32) | (p00 & 0xffffffffu);
#endif
}

static inline int
ms_clz64(uint64_t x)  /* x != 0 */
{
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_clzll(x);
#else
    int n = 0;
    if (!(x >> 32)) { n += 32; x <<= 32; }
    if (!(x >> 48)) { n += 16; x <<= 16; }
    if (!(x >> 56)) { n += 8; x <<= 8; }
    if (!(x >> 60)) { n += 4; x <<= 4; }
    if (!(x >> 62)) { n += 2; x <<= 2; }
    if (!(x >> 63)) { n += 1; }
    return n;
#endif
}

static inline double
ms_from_bits(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* ---------------------------------------------------------------------
 * w * 10**q (w < 10**19) to the nearest double
 * --------------------------------------------------------------------- */

/* The doubles 1e0 .. 1e22, all exact */
static const double ms_pow10[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* 1 and *out set, or 0: not decided here (the caller defers the token) */
static inline int
ms_decimal_to_double(uint64_t w, int64_t q, int negative, double *out)
{
    uint64_t sign = (uint64_t)(negative != 0) << 63;
    if (w == 0) {
        *out = ms_from_bits(sign);
        return 1;
    }
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
    /* One correctly rounded operation on exact operands.  (Not where
     * doubles are evaluated in wider registers, e.g. x87: rounded twice.) */
    if (w <= ((uint64_t)1 << 53) && q >= -22 && q <= 22) {
        double d = (double)w;
        d = q < 0 ? d / ms_pow10[-q] : d * ms_pow10[q];
        *out = negative ? -d : d;
        return 1;
    }
#endif
    if (q < MS_POW5_MIN || q > MS_POW5_MAX) {
        return 0;
    }
    /* w * 10**q = w' * 2**-lz * (T + d) * 2**e * 2**q, with w' = w << lz */
    int lz = ms_clz64(w);
    uint64_t wn = w << lz;
    uint64_t hi = ms_pow5[q - MS_POW5_MIN].hi, lo = ms_pow5[q - MS_POW5_MIN].lo;
    uint64_t a_hi, b_hi;
    uint64_t p0 = ms_mul64(wn, lo, &a_hi);
    uint64_t b_lo = ms_mul64(wn, hi, &b_hi);
    uint64_t p1 = a_hi + b_lo;
    uint64_t p2 = b_hi + (p1 < b_lo);
    /* P = p2:p1:p0 = w' * T, 2**190 <= P < 2**192; the exact value is
     * E = P + w' * d in [P, P + 2**64), times 2**s */
    int64_t s = (int64_t)ms_pow5[q - MS_POW5_MIN].e + q - lz;
    int top = 190 + (int)(p2 >> 63);  /* P's highest bit */
    int64_t e2 = top + s;  /* the binary exponent of P * 2**s */
    int64_t k;  /* round P * 2**s to a multiple of 2**(s + k): drop k bits */
    if (e2 >= -1022) {
        k = top - 52;  /* 53 significant bits */
    }
    else {
        k = -1074 - s;  /* subnormal: a multiple of 2**-1074 */
        if (k > 190) {
            return 0;  /* at most about 2**-1073: rare, deferred */
        }
    }
    /* k >= 138: the dropped bits are p0, p1 and the low j bits of p2 */
    int j = (int)(k - 128);
    uint64_t m = p2 >> j;
    uint64_t r = p2 & (((uint64_t)1 << j) - 1);
    uint64_t half = (uint64_t)1 << (j - 1);
    /* Is a halfway point (m' + 1/2) * 2**k within [P, P + 2**64]?  Only
     * where the dropped bits are within 2**64 of 2**(k-1): undecided. */
    if (q >= 0 && q <= 55) {
        /* 5**q is exact in the table: P is the exact value, ties included
         * (integers above 2**53, say), to even */
        int tie = r == half && p1 == 0 && p0 == 0;
        m += tie ? (m & 1) : r >= half;
    }
    else {
        if ((r == half && p1 <= 1) || (r == half - 1 && p1 == UINT64_MAX)) {
            return 0;
        }
        m += r >= half;  /* above the halfway point: up */
    }
    uint64_t bits;
    if (e2 >= -1022) {
        if (m == ((uint64_t)1 << 53)) {  /* rounded up to the next power of 2 */
            m >>= 1;
            e2 += 1;
        }
        if (e2 > 1023) {
            bits = (uint64_t)0x7ff << 52;  /* overflow: inf, as strtod */
        }
        else {
            bits = ((uint64_t)(e2 + 1023) << 52) | (m & (((uint64_t)1 << 52) - 1));
        }
    }
    else {
        /* subnormal (m < 2**52), or 2**52 when it rounded up to the
         * smallest normal: either way these are its bits */
        bits = m;
    }
    *out = ms_from_bits(bits | sign);
    return 1;
}

/* ---------------------------------------------------------------------
 * A table of numbers
 * --------------------------------------------------------------------- */

/* A token left to the caller: text[start:start + len] is out[index] */
typedef struct {
    Py_ssize_t start, len, index;
} ms_deferred;

typedef struct {
    ms_deferred *items;
    Py_ssize_t n, cap;
} ms_deferred_list;

#define MS_REFUSED (-1)  /* not a plain table: the caller reads it line by line */
#define MS_NO_MEMORY (-2)

static int
ms_defer(ms_deferred_list *list, Py_ssize_t start, Py_ssize_t len, Py_ssize_t index)
{
    if (list->n == list->cap) {
        Py_ssize_t cap = list->cap ? 2 * list->cap : 64;
        ms_deferred *items = (ms_deferred *)realloc(list->items, (size_t)cap * sizeof *items);
        if (items == NULL) {
            return -1;
        }
        list->items = items;
        list->cap = cap;
    }
    list->items[list->n].start = start;
    list->items[list->n].len = len;
    list->items[list->n].index = index;
    list->n += 1;
    return 0;
}

static inline int
ms_is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* what may follow a number in its field: spaces, the delimiter, a line end */
static inline int
ms_ends_token(unsigned char c, unsigned char delim)
{
    return c == delim || c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* A byte no number and no plain text cell of this reader holds: control
 * characters (other than tab), DEL, non-ASCII (some are line breaks for
 * str.splitlines, and the text may not be UTF-8) and the quote (a quoted
 * field may hold delimiters and newlines). */
static inline int
ms_is_unusual(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c >= 0x7f || c == '"';
}

/*
 * The number at *pp (after its leading spaces): 1 with *out set, 0 when it
 * is deferred (then *pp is past its token), MS_REFUSED (an empty field or
 * an unusual byte).  *pp ends past the token either way.
 */
static inline int
ms_number(const unsigned char **pp, unsigned char delim, double *out)
{
    const unsigned char *p = *pp;
    int negative = 0;
    if (*p == '-' || *p == '+') {
        negative = *p == '-';
        p++;
    }
    uint64_t w = 0;
    int digits = 0;  /* significant digits in w */
    int dropped = 0;  /* significant digits beyond 19 */
    int any = 0;  /* a digit at all */
    int64_t q = 0;
    while (*p == '0') {
        p++;
        any = 1;
    }
    while (ms_is_digit(*p)) {
        if (digits < 19) {
            w = 10 * w + (uint64_t)(*p - '0');
            digits++;
        }
        else {
            dropped = 1;
            q++;
        }
        p++;
        any = 1;
    }
    if (*p == '.') {
        p++;
        if (digits == 0) {
            while (*p == '0') {
                p++;
                q--;
                any = 1;
            }
        }
        while (ms_is_digit(*p)) {
            if (digits < 19) {
                w = 10 * w + (uint64_t)(*p - '0');
                digits++;
                q--;
            }
            else {
                dropped = 1;
            }
            p++;
            any = 1;
        }
    }
    int plain = any;
    if (plain && (*p == 'e' || *p == 'E')) {
        const unsigned char *e = p + 1;
        int e_negative = 0;
        if (*e == '-' || *e == '+') {
            e_negative = *e == '-';
            e++;
        }
        if (ms_is_digit(*e)) {
            int64_t x = 0;
            while (ms_is_digit(*e)) {
                if (x < 1000000) {  /* beyond: no double either way */
                    x = 10 * x + (*e - '0');
                }
                e++;
            }
            q += e_negative ? -x : x;
            p = e;
        }
        else {
            plain = 0;  /* "1e", "1e+": not a number for loadtxt either */
        }
    }
    if (plain && ms_ends_token(*p, delim)) {
        *pp = p;
        if (!dropped && ms_decimal_to_double(w, q, negative, out)) {
            return 1;
        }
        return 0;
    }
    /* not a plain decimal: the whole token is deferred */
    p = *pp;
    if (ms_ends_token(*p, delim)) {
        return MS_REFUSED;  /* an empty field */
    }
    while (!ms_ends_token(*p, delim)) {
        if (ms_is_unusual(*p)) {
            return MS_REFUSED;
        }
        p++;
    }
    *pp = p;
    return 0;
}

/*
 * Parse text[0:n], which ends with a newline, as a table with n_fields
 * fields on every line, separated by delim (a tab or an ASCII punctuation
 * character other than quote, '.', '+', '-'), writing the fields whose
 * colmap entry c >= 0 to out[row * n_out + c].  Spaces and tabs around a
 * number are skipped, a line may end with "\r\n", lines of only spaces
 * (and tabs, unless the delimiter is a tab) are skipped as numpy.loadtxt
 * skips blank lines.  A field with no colmap entry (< 0) is skipped
 * whatever it holds, but for unusual bytes.
 *
 * Returns the number of rows (at most max_rows), MS_REFUSED when the text
 * is not such a table (a field too many or too few, an empty field, a lone
 * carriage return, an unusual byte, more than max_rows rows), or
 * MS_NO_MEMORY.  Tokens that are not decided here are appended to
 * *deferred (their out[] entries are left unset).
 */
static Py_ssize_t
ms_parse_table(const char *text, Py_ssize_t n, unsigned char delim, Py_ssize_t n_fields,
               const Py_ssize_t *colmap, Py_ssize_t n_out, double *out,
               Py_ssize_t max_rows, ms_deferred_list *deferred)
{
    const unsigned char *s = (const unsigned char *)text;
    const unsigned char *p = s, *end = s + n;
    Py_ssize_t rows = 0;
    if (n == 0 || s[n - 1] != '\n' || n_fields < 1) {
        return MS_REFUSED;
    }
    while (p < end) {
        const unsigned char *b = p;  /* a blank line? */
        while ((*b == ' ' || *b == '\t') && *b != delim) {
            b++;
        }
        if (*b == '\r' && b[1] == '\n') {
            b++;
        }
        if (*b == '\n') {
            p = b + 1;
            continue;
        }
        if (rows == max_rows) {
            return MS_REFUSED;
        }
        double *row = out + rows * n_out;
        for (Py_ssize_t f = 0; f < n_fields; f++) {
            Py_ssize_t c = colmap[f];
            if (c < 0) {
                while (*p != delim && *p != '\n' && *p != '\r') {
                    if (ms_is_unusual(*p)) {
                        return MS_REFUSED;
                    }
                    p++;
                }
            }
            else {
                while ((*p == ' ' || *p == '\t') && *p != delim) {
                    p++;
                }
                const unsigned char *token = p;
                int got = ms_number(&p, delim, row + c);
                if (got == MS_REFUSED) {
                    return MS_REFUSED;
                }
                if (got == 0 && ms_defer(deferred, token - s, p - token, rows * n_out + c)) {
                    return MS_NO_MEMORY;
                }
                while ((*p == ' ' || *p == '\t') && *p != delim) {
                    p++;
                }
            }
            if (f + 1 < n_fields) {
                if (*p != delim) {
                    return MS_REFUSED;
                }
                p++;
            }
            else {
                if (*p == '\r') {
                    p++;
                }
                if (*p != '\n') {
                    return MS_REFUSED;
                }
                p++;
            }
        }
        rows++;
    }
    return rows;
}

/* The number of newlines in text[0:n] (a loop the compiler vectorises) */
static Py_ssize_t
ms_count_lines(const char *text, Py_ssize_t n)
{
    const unsigned char *s = (const unsigned char *)text;
    Py_ssize_t count = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        count += s[i] == '\n';
    }
    return count;
}

#endif /* MEANSHIFT_TEXTPARSE_H */
