/*
 * CPU kernels (see Kernels/CpuKernels.cs).
 *
 * For one cached decoding step: the linear layers and the LM head at a few rows (1 to 32 sequences)
 * against weights packed once, and attention of one query per sequence and head. libtorch's general
 * kernels are slow at these shapes on this project's machines: its fp32 and bf16 GEMMs re-pack every
 * weight at every call, so a step streams its weights at a third of the memory bandwidth or less
 * (docs/benchmarks.md).
 *
 * For the ViT encoder (bf16 weights): the linear layers at many rows (197 per image), with the
 * LayerNorm before them, the bias, GELU and the residual add after them fused in, bf16 or fp32 out.
 *
 * Layouts. A weight W [N, K] (a Linear's, row-major) is packed in blocks of NB = 64 output
 * columns, each block contiguous so that it streams from memory in one run:
 *   fp32: [N/64][K][64]          y[m, n] += x[m, k] * W[n, k], one broadcast x per k;
 *   bf16: [N/64][K/2][64][2]     pairs of k next to each other, as AVX512-BF16's vdpbf16ps takes them.
 * Columns past N and (bf16) the odd k past K are zeros. Outputs are always fp32.
 *
 * Threads: the work is split over libtorch's own OpenMP threads (its libgomp, whose entry points
 * ck_set_openmp receives), so the kernels share libtorch's thread pool and wait policy instead of
 * starting threads of their own. Without it everything runs on the calling thread.
 *
 * Every function here needs AVX-512F (and AVX512-BF16 for the bf16 ones); the library itself loads
 * on any x86-64 CPU and ck_cpu_features() says what may be called.
 */
#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NB 64 /* output columns per packed block: 4 vectors of 16 fp32 */
#define MR 6  /* rows per register tile: 6 x 4 accumulators */

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,fma")))
#define AVX512BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,fma")))
#define INLINE static inline __attribute__((always_inline))

/* ---------- CPU features and threads ---------- */

/* Bit 0: AVX-512F/BW/VL with FMA (the fp32 kernels); bit 1: AVX512-BF16 too (the bf16 kernels). */
int ck_cpu_features(void)
{
    __builtin_cpu_init();
    int f = 0;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma"))
    {
        f |= 1;
        if (__builtin_cpu_supports("avx512bf16")) f |= 2;
    }
    return f;
}

typedef void (*gomp_parallel_t)(void (*)(void *), void *, unsigned, unsigned);
static gomp_parallel_t gomp_parallel;
static int (*omp_thread_num)(void);
static int (*omp_num_threads)(void);

/* libtorch's GOMP_parallel, omp_get_thread_num and omp_get_num_threads (all or none). */
void ck_set_openmp(void *parallel, void *thread_num, void *num_threads)
{
    if (parallel && thread_num && num_threads)
    {
        omp_thread_num = (int (*)(void))thread_num;
        omp_num_threads = (int (*)(void))num_threads;
        gomp_parallel = (gomp_parallel_t)parallel;
    }
    else
    {
        gomp_parallel = 0;
    }
}

/* Runs fn(task) on `threads` threads (one when there is no OpenMP or little work). */
static void run(void (*fn)(void *), void *task, int threads)
{
    if (gomp_parallel && threads > 1)
        gomp_parallel(fn, task, (unsigned)threads, 0);
    else
        fn(task);
}

/* This thread's share [begin, end) of `total` items. */
static void share(long total, long *begin, long *end)
{
    long t = 0, n = 1;
    if (gomp_parallel)
    {
        t = omp_thread_num();
        n = omp_num_threads();
    }
    long per = total / n, extra = total % n;
    *begin = t * per + (t < extra ? t : extra);
    *end = *begin + per + (t < extra ? 1 : 0);
}

/* Fewer threads for small work: a parallel region costs microseconds. */
static int threads_for(double work, int threads)
{
    if (threads < 1) threads = 1;
    if (work < 65536.0) return 1;
    return threads;
}

/* ---------- packing ---------- */

static long blocks(long n) { return (n + NB - 1) / NB; }

long ck_packed_f32_size(int n, int k) { return blocks(n) * (long)k * NB; }
long ck_packed_bf16_size(int n, int k) { return blocks(n) * (long)((k + 1) / 2) * NB * 2; }

/* Round to nearest even, as torch's float -> bfloat16 conversion (NaN kept a NaN). */
static uint16_t to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

/* w: [n, k] row-major fp32. */
void ck_pack_f32(const float *w, int n, int k, float *dst)
{
    for (long b = 0; b < blocks(n); b++)
        for (long kk = 0; kk < k; kk++)
            for (long c = 0; c < NB; c++)
            {
                long col = b * NB + c;
                dst[(b * k + kk) * NB + c] = col < n ? w[col * k + kk] : 0.0f;
            }
}

/* w: [n, k] row-major, fp32 (w_is_bf16 = 0, rounded) or bf16 bits (1, copied). */
void ck_pack_bf16(const void *w, int w_is_bf16, int n, int k, uint16_t *dst)
{
    long k2 = (k + 1) / 2;
    for (long b = 0; b < blocks(n); b++)
        for (long p = 0; p < k2; p++)
            for (long c = 0; c < NB; c++)
                for (long h = 0; h < 2; h++)
                {
                    long col = b * NB + c, kk = 2 * p + h;
                    uint16_t v = 0;
                    if (col < n && kk < k)
                        v = w_is_bf16 ? ((const uint16_t *)w)[col * k + kk] : to_bf16(((const float *)w)[col * k + kk]);
                    dst[((b * k2 + p) * NB + c) * 2 + h] = v;
                }
}

/* ---------- linear layers: y (+)= x W^T + bias ---------- */

typedef struct
{
    int m, n, k;
    const void *x; /* fp32 [m, ldx] (fp32 kernel) or bf16 pairs [m, k2] (bf16 kernel) */
    long ldx;
    const void *w;
    const float *bias;
    float *y;
    long ldy;
    int mode;
} linear_task;

/* What a linear kernel does with x W^T + bias. */
enum { STORE = 0, ACCUMULATE = 1, GELU_TANH = 2 };

INLINE __mmask16 cols_mask(int left) { return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1u); }

AVX512 INLINE __m512 exp512(__m512 x);
AVX512 INLINE float softmax_numerators(float *s, int n);

/* GPT-2's "gelu_new": 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), tanh(u) = 1 - 2 / (exp(2u) + 1). */
AVX512 INLINE __m512 gelu_tanh(__m512 x)
{
    __m512 u = _mm512_mul_ps(_mm512_set1_ps(0.7978845608028654f), _mm512_fmadd_ps(_mm512_mul_ps(_mm512_set1_ps(0.044715f), x), _mm512_mul_ps(x, x), x));
    u = _mm512_min_ps(_mm512_max_ps(u, _mm512_set1_ps(-10.0f)), _mm512_set1_ps(10.0f));
    __m512 e = exp512(_mm512_add_ps(u, u));
    __m512 t = _mm512_sub_ps(_mm512_set1_ps(1.0f), _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, _mm512_set1_ps(1.0f))));
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), _mm512_add_ps(t, _mm512_set1_ps(1.0f)));
}

/* acc + bias, then stored, added to y, or through GELU and stored, for `cols` (<= 64) columns. */
AVX512 INLINE void store_tile(__m512 acc[4], const float *bias, float *y, int cols, int mode)
{
    for (int j = 0; j < 4 && 16 * j < cols; j++)
    {
        __mmask16 mask = cols_mask(cols - 16 * j);
        __m512 v = acc[j];
        if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, bias + 16 * j));
        if (mode == ACCUMULATE) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, y + 16 * j));
        else if (mode == GELU_TANH) v = gelu_tanh(v);
        _mm512_mask_storeu_ps(y + 16 * j, mask, v);
    }
}

/* R rows (R <= MR, a constant after inlining) by one block of 64 columns, fp32. */
AVX512 INLINE void tile_f32(const int R, int k, const float *x, long ldx, const float *w, const float *bias, float *y, long ldy, int cols, int mode)
{
    __m512 acc[MR][4];
    for (int r = 0; r < R; r++)
        for (int j = 0; j < 4; j++) acc[r][j] = _mm512_setzero_ps();
    for (int kk = 0; kk < k; kk++)
    {
        const float *wk = w + (long)kk * NB;
        __m512 w0 = _mm512_loadu_ps(wk), w1 = _mm512_loadu_ps(wk + 16), w2 = _mm512_loadu_ps(wk + 32), w3 = _mm512_loadu_ps(wk + 48);
        for (int r = 0; r < R; r++)
        {
            __m512 xv = _mm512_set1_ps(x[r * ldx + kk]);
            acc[r][0] = _mm512_fmadd_ps(xv, w0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(xv, w1, acc[r][1]);
            acc[r][2] = _mm512_fmadd_ps(xv, w2, acc[r][2]);
            acc[r][3] = _mm512_fmadd_ps(xv, w3, acc[r][3]);
        }
    }
    for (int r = 0; r < R; r++) store_tile(acc[r], bias, y + r * ldy, cols, mode);
}

/* acc[r][0..3] = sum_p x2[r*ldx2 + p] . w[p] over k2 pairs, for R rows against one packed block of 64 columns. */
AVX512BF16 INLINE void block_bf16(const int R, int k2, const uint32_t *x2, long ldx2, const uint16_t *w, __m512 acc[MR][4])
{
    for (int r = 0; r < R; r++)
        for (int j = 0; j < 4; j++) acc[r][j] = _mm512_setzero_ps();
    for (int p = 0; p < k2; p++)
    {
        const uint16_t *wp = w + (long)p * NB * 2;
        __m512bh w0 = (__m512bh)_mm512_loadu_si512(wp), w1 = (__m512bh)_mm512_loadu_si512(wp + 32),
                 w2 = (__m512bh)_mm512_loadu_si512(wp + 64), w3 = (__m512bh)_mm512_loadu_si512(wp + 96);
        for (int r = 0; r < R; r++)
        {
            __m512bh xv = (__m512bh)_mm512_set1_epi32((int)x2[r * ldx2 + p]);
            acc[r][0] = _mm512_dpbf16_ps(acc[r][0], xv, w0);
            acc[r][1] = _mm512_dpbf16_ps(acc[r][1], xv, w1);
            acc[r][2] = _mm512_dpbf16_ps(acc[r][2], xv, w2);
            acc[r][3] = _mm512_dpbf16_ps(acc[r][3], xv, w3);
        }
    }
}

/* R rows by one block of 64 columns, bf16 pairs: x2 holds each row's k-pairs as 32-bit words. */
AVX512BF16 INLINE void tile_bf16(const int R, int k2, const uint32_t *x2, long ldx2, const uint16_t *w, const float *bias, float *y, long ldy, int cols, int mode)
{
    __m512 acc[MR][4];
    block_bf16(R, k2, x2, ldx2, w, acc);
    for (int r = 0; r < R; r++) store_tile(acc[r], bias, y + r * ldy, cols, mode);
}

/* Rows of the register tile starting at row m0: the m rows in as few tiles as MR allows, of even
   sizes (32 rows: 6 6 5 5 5 5, not 6 6 6 6 6 2). */
static int tile_rows(int m, int m0)
{
    int tiles = (m + MR - 1) / MR, small = m / tiles, big = tiles - (tiles * (small + 1) - m); /* `big` tiles of small + 1 */
    return m0 < big * (small + 1) ? small + 1 : small;
}

#define ROWS_SWITCH(R, CALL) \
    switch (R)               \
    {                        \
    case 1: CALL(1); break;  \
    case 2: CALL(2); break;  \
    case 3: CALL(3); break;  \
    case 4: CALL(4); break;  \
    case 5: CALL(5); break;  \
    default: CALL(6); break; \
    }

AVX512 static void linear_f32_part(void *arg)
{
    const linear_task *t = (const linear_task *)arg;
    long b0, b1;
    share(blocks(t->n), &b0, &b1);
    const float *x = (const float *)t->x;
    for (long b = b0; b < b1; b++)
    {
        const float *w = (const float *)t->w + b * (long)t->k * NB;
        int cols = t->n - (int)(b * NB) < NB ? t->n - (int)(b * NB) : NB;
        const float *bias = t->bias ? t->bias + b * NB : 0;
        for (int m0 = 0, r; m0 < t->m; m0 += r)
        {
            r = tile_rows(t->m, m0);
            const float *xr = x + m0 * t->ldx;
            float *yr = t->y + m0 * t->ldy + b * NB;
#define CALL_F32(R) tile_f32(R, t->k, xr, t->ldx, w, bias, yr, t->ldy, cols, t->mode)
            ROWS_SWITCH(r, CALL_F32)
#undef CALL_F32
        }
    }
}

AVX512BF16 static void linear_bf16_part(void *arg)
{
    const linear_task *t = (const linear_task *)arg;
    long b0, b1;
    share(blocks(t->n), &b0, &b1);
    int k2 = (t->k + 1) / 2;
    const uint32_t *x2 = (const uint32_t *)t->x;
    for (long b = b0; b < b1; b++)
    {
        const uint16_t *w = (const uint16_t *)t->w + b * (long)k2 * NB * 2;
        int cols = t->n - (int)(b * NB) < NB ? t->n - (int)(b * NB) : NB;
        const float *bias = t->bias ? t->bias + b * NB : 0;
        for (int m0 = 0, r; m0 < t->m; m0 += r)
        {
            r = tile_rows(t->m, m0);
            float *yr = t->y + m0 * t->ldy + b * NB;
#define CALL_BF16(R) tile_bf16(R, k2, x2 + (long)m0 * k2, k2, w, bias, yr, t->ldy, cols, t->mode)
            ROWS_SWITCH(r, CALL_BF16)
#undef CALL_BF16
        }
    }
}

/* LayerNorm of one fp32 row, statistics in fp32 as torch's: out = (x - mean) / sqrt(var + eps) * w + b. */
AVX512 static void layer_norm_row(const float *xr, int k, const float *w, const float *b, float eps, float *out)
{
    __m512 s = _mm512_setzero_ps();
    for (int kk = 0; kk < k; kk += 16) s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(cols_mask(k - kk), xr + kk));
    __m512 mean = _mm512_set1_ps(_mm512_reduce_add_ps(s) / k), v = _mm512_setzero_ps();
    for (int kk = 0; kk < k; kk += 16)
    {
        __mmask16 mask = cols_mask(k - kk);
        __m512 d = _mm512_maskz_sub_ps(mask, _mm512_maskz_loadu_ps(mask, xr + kk), mean);
        v = _mm512_fmadd_ps(d, d, v);
    }
    __m512 inv = _mm512_set1_ps(1.0f / _mm_cvtss_f32(_mm_sqrt_ss(_mm_set_ss(_mm512_reduce_add_ps(v) / k + eps))));
    for (int kk = 0; kk < k; kk += 16)
    {
        __mmask16 mask = cols_mask(k - kk);
        __m512 y = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(mask, xr + kk), mean), inv);
        _mm512_mask_storeu_ps(out + kk, mask, _mm512_fmadd_ps(y, _mm512_maskz_loadu_ps(mask, w + kk), _mm512_maskz_loadu_ps(mask, b + kk)));
    }
}

/* The rows of x LayerNorm'd into out [m, k]. */
static void layer_norm_rows(int m, int k, const float *x, long ldx, const float *w, const float *b, float eps, float *out)
{
    for (int r = 0; r < m; r++) layer_norm_row(x + (long)r * ldx, k, w, b, eps, out + (long)r * k);
}

static uint32_t *scratch_for(long words);

/* y[m, n] = LN(x)[m, k] W^T + bias (mode STORE), y += ... (ACCUMULATE) or y = gelu_tanh(...) (GELU_TANH);
   the LayerNorm (weight ln_w, bias ln_b, ln_eps) only when ln_w is given; W packed by ck_pack_f32; bias may be
   null. Returns 0, or -1 when out of memory for the normalized rows. */
int ck_linear_f32(int m, int n, int k, const float *x, long ldx, const float *ln_w, const float *ln_b, float ln_eps,
                  const float *packed, const float *bias, float *y, long ldy, int mode, int threads)
{
    if (ln_w)
    {
        float *normed = (float *)scratch_for((long)m * k);
        if (!normed) return -1;
        layer_norm_rows(m, k, x, ldx, ln_w, ln_b, ln_eps, normed);
        x = normed;
        ldx = k;
    }
    linear_task t = {m, n, k, x, ldx, packed, bias, y, ldy, mode};
    run(linear_f32_part, &t, threads_for((double)m * n * k, threads));
    return 0;
}

/* The rows of x as bf16 pairs (round to nearest even, as torch converts), zero-padded to an even k. */
AVX512BF16 static void rows_to_bf16_pairs(int m, int k, const float *x, long ldx, uint32_t *out)
{
    int k2 = (k + 1) / 2;
    for (int r = 0; r < m; r++)
    {
        const float *xr = x + r * ldx;
        uint16_t *o = (uint16_t *)(out + (long)r * k2);
        int kk = 0;
        for (; kk + 32 <= k; kk += 32)
        {
            __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(xr + kk + 16), _mm512_loadu_ps(xr + kk));
            _mm512_storeu_si512(o + kk, (__m512i)v);
        }
        for (; kk < k; kk++) o[kk] = to_bf16(xr[kk]);
        if (k & 1) o[k] = 0;
    }
}

static __thread uint32_t *scratch;
static __thread long scratch_words;

static uint32_t *scratch_for(long words)
{
    if (words > scratch_words)
    {
        free(scratch);
        scratch = (uint32_t *)aligned_alloc(64, (size_t)((words + 15) / 16 * 64));
        scratch_words = scratch ? (words + 15) / 16 * 16 : 0;
    }
    return scratch;
}

/* As ck_linear_f32 with bf16(LN(x)[m, k]) and W packed by ck_pack_bf16; fp32 accumulation and output.
   Returns 0, or -1 when out of memory. */
int ck_linear_bf16(int m, int n, int k, const float *x, long ldx, const float *ln_w, const float *ln_b, float ln_eps,
                   const uint16_t *packed, const float *bias, float *y, long ldy, int mode, int threads)
{
    long k2 = (k + 1) / 2;
    uint32_t *x2 = scratch_for(m * k2 + (ln_w ? (long)m * k : 0));
    if (!x2) return -1;
    if (ln_w)
    {
        float *normed = (float *)(x2 + m * k2);
        layer_norm_rows(m, k, x, ldx, ln_w, ln_b, ln_eps, normed);
        x = normed;
        ldx = k;
    }
    rows_to_bf16_pairs(m, k, x, ldx, x2);
    linear_task t = {m, n, k, x2, k2, packed, bias, y, ldy, mode};
    run(linear_bf16_part, &t, threads_for((double)m * n * k, threads));
    return 0;
}

/* ---------- linear layers at many rows (the ViT encoder), bf16 weights ---------- */

#define MC 48 /* rows per panel: their bf16 pairs stay in L2 while every column block of W passes */

enum { GELU_ERF = 3 };

/* erf as PyTorch's vectorized CPU erf computes it (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7). */
AVX512 INLINE __m512 erf512(__m512 x)
{
    __m512i sign = _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32((int)0x80000000u));
    __m512 a = _mm512_abs_ps(x);
    __m512 t = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_fmadd_ps(_mm512_set1_ps(0.3275911f), a, _mm512_set1_ps(1.0f)));
    __m512 r = _mm512_fmadd_ps(_mm512_set1_ps(1.061405429f), t, _mm512_set1_ps(-1.453152027f));
    r = _mm512_fmadd_ps(r, t, _mm512_set1_ps(1.421413741f));
    r = _mm512_fmadd_ps(r, t, _mm512_set1_ps(-0.284496736f));
    r = _mm512_fmadd_ps(r, t, _mm512_set1_ps(0.254829592f));
    __m512 e = exp512(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_mul_ps(x, x)));
    __m512 y = _mm512_fnmadd_ps(_mm512_mul_ps(e, t), r, _mm512_set1_ps(1.0f)); /* 1 - r t exp(-x^2) */
    return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(y), sign));
}

/* The exact GELU: 0.5 x (1 + erf(x / sqrt 2)). */
AVX512 INLINE __m512 gelu_erf(__m512 x)
{
    __m512 e = erf512(_mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f)));
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), _mm512_add_ps(e, _mm512_set1_ps(1.0f)));
}

typedef struct
{
    int m, n, k;
    const void *x;              /* [m, ldx]: fp32, or bf16 (x_bf16, k even) */
    long ldx;
    int x_bf16;
    const float *ln_w, *ln_b;   /* when ln_w: LayerNorm (ln_eps) of each fp32 row first */
    float ln_eps;
    const uint16_t *w;          /* packed by ck_pack_bf16 */
    const float *bias;          /* [n] or null */
    const float *res;           /* when not null: y = res + ..., fp32 [m, ldres] (may be y itself) */
    long ldres;
    void *y;                    /* [m, ldy]: fp32, or bf16 (y_bf16) */
    long ldy;
    int y_bf16;
    int mode;                   /* STORE, GELU_TANH or GELU_ERF */
    int failed;                 /* set when a thread found no memory for its panel */
} rows_task;

/* One panel row as bf16 pairs: LayerNorm'd (fp32 statistics), rounded, or copied. */
AVX512BF16 static void panel_row(const rows_task *t, long row, uint16_t *o)
{
    int k = t->k;
    if (t->x_bf16)
    {
        memcpy(o, (const uint16_t *)t->x + row * t->ldx, sizeof(uint16_t) * k);
        return;
    }
    const float *xr = (const float *)t->x + row * t->ldx;
    float normed[t->ln_w ? k : 1];
    if (t->ln_w)
    {
        layer_norm_row(xr, k, t->ln_w, t->ln_b, t->ln_eps, normed);
        xr = normed;
    }
    rows_to_bf16_pairs(1, k, xr, k, (uint32_t *)o);
}

/* acc + bias, through GELU, + res, stored as fp32 or bf16, for `cols` (<= 64) columns of one row. */
AVX512BF16 INLINE void store_row(const rows_task *t, __m512 acc[4], const float *bias, long row, long col, int cols)
{
    for (int j = 0; j < 4 && 16 * j < cols; j++)
    {
        __mmask16 mask = cols_mask(cols - 16 * j);
        long c = col + 16 * j;
        __m512 v = acc[j];
        if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, bias + 16 * j));
        if (t->mode == GELU_TANH) v = gelu_tanh(v);
        else if (t->mode == GELU_ERF) v = gelu_erf(v);
        if (t->res) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, t->res + row * t->ldres + c));
        if (t->y_bf16)
            _mm256_mask_storeu_epi16((uint16_t *)t->y + row * t->ldy + c, mask, (__m256i)_mm512_cvtneps_pbh(v));
        else
            _mm512_mask_storeu_ps((float *)t->y + row * t->ldy + c, mask, v);
    }
}

/* R rows of a panel (their pairs at x2, k2 words apart) by one block of 64 columns. */
AVX512BF16 INLINE void tile_rows_bf16(const int R, const rows_task *t, const uint32_t *x2, int k2, const uint16_t *w, const float *bias, long row, long col, int cols)
{
    __m512 acc[MR][4];
    block_bf16(R, k2, x2, k2, w, acc);
    for (int r = 0; r < R; r++) store_row(t, acc[r], bias, row + r, col, cols);
}

/* This thread's rows, in panels of at most MC: each panel's pairs made once, then every column block. */
AVX512BF16 static void linear_rows_part(void *arg)
{
    const rows_task *t = (const rows_task *)arg;
    long r0, r1;
    share(t->m, &r0, &r1);
    int k2 = (t->k + 1) / 2;
    long rows = r1 - r0, panels = (rows + MC - 1) / MC;
    if (panels == 0) return;
    uint32_t *x2 = scratch_for((long)MC * k2);
    if (!x2)
    {
        __atomic_store_n(&((rows_task *)arg)->failed, 1, __ATOMIC_RELAXED);
        return;
    }
    for (long pi = 0; pi < panels; pi++)
    {
        long p0 = r0 + rows * pi / panels, p1 = r0 + rows * (pi + 1) / panels;
        int pm = (int)(p1 - p0);
        for (int r = 0; r < pm; r++) panel_row(t, p0 + r, (uint16_t *)(x2 + (long)r * k2));
        for (long b = 0; b < blocks(t->n); b++)
        {
            const uint16_t *w = t->w + b * (long)k2 * NB * 2;
            int cols = t->n - (int)(b * NB) < NB ? t->n - (int)(b * NB) : NB;
            const float *bias = t->bias ? t->bias + b * NB : 0;
            for (int m0 = 0, r; m0 < pm; m0 += r)
            {
                r = tile_rows(pm, m0);
#define CALL_ROWS(R) tile_rows_bf16(R, t, x2 + (long)m0 * k2, k2, w, bias, p0 + m0, b * NB, cols)
                ROWS_SWITCH(r, CALL_ROWS)
#undef CALL_ROWS
            }
        }
    }
}

/*
 * y = [res +] f(LN(x) W^T + bias) for many rows (m of them; f the identity, GELU-tanh or GELU-erf), with
 * W packed by ck_pack_bf16, fp32 accumulation: the rows of x (fp32, or bf16 when x_bf16 and k even) are
 * LayerNorm'd when ln_w is given (fp32 x only), rounded to bf16, and the output stored as fp32 or bf16
 * (y_bf16). res may be y itself (y += ...). The rows are split between the threads, each thread's in
 * panels of at most MC rows. Returns 0; -1 when out of memory (y may be partly written); -2 for bf16 x
 * with an odd k or a LayerNorm.
 */
int ck_linear_rows_bf16(int m, int n, int k, const void *x, long ldx, int x_bf16, const float *ln_w, const float *ln_b, float ln_eps,
                        const uint16_t *packed, const float *bias, const float *res, long ldres, void *y, long ldy, int y_bf16, int mode, int threads)
{
    if (x_bf16 && ((k & 1) || ln_w)) return -2;
    rows_task t = {m, n, k, x, ldx, x_bf16, ln_w, ln_b, ln_eps, packed, bias, res, ldres, y, ldy, y_bf16, mode, 0};
    run(linear_rows_part, &t, threads_for((double)m * n * k, threads));
    return t.failed ? -1 : 0;
}

/* ---------- the ViT's attention: every query of an image against its keys ---------- */

typedef struct
{
    int b, n, h, d;
    const uint16_t *qkv; /* bf16 rows [b*n, ld]: head j's query at column j*d, key at h*d + j*d, value at 2*h*d + j*d */
    long ld;
    uint16_t *out;       /* bf16 rows [b*n, ldo]: head j at column j*d */
    long ldo;
    float scale;
    int failed;          /* set when a thread found no memory for its scratch */
} vit_attention_task;

/* R query rows of one image and head: scores against every key, softmax, weighted values, stored bf16. */
AVX512BF16 INLINE void attend_rows(const int R, const vit_attention_task *t, const uint32_t *q2, const uint16_t *kp, const uint16_t *vp,
                                   float *s, uint32_t *p2, uint16_t *out)
{
    int n = t->n, d = t->d, k2 = d / 2, n2 = (n + 1) / 2, sn = (int)blocks(n) * NB;
    long ldq2 = t->ld / 2;
    __m512 acc[MR][4];
    for (long kb = 0; kb < blocks(n); kb++)
    {
        block_bf16(R, k2, q2, ldq2, kp + kb * (long)k2 * NB * 2, acc);
        for (int r = 0; r < R; r++)
            for (int j = 0; j < 4; j++) _mm512_storeu_ps(s + (long)r * sn + kb * NB + 16 * j, _mm512_mul_ps(acc[r][j], _mm512_set1_ps(t->scale)));
    }
    float inv[MR];
    for (int r = 0; r < R; r++)
    {
        float *sr = s + (long)r * sn;
        inv[r] = 1.0f / softmax_numerators(sr, n);
        uint16_t *pr = (uint16_t *)(p2 + (long)r * n2);
        for (int l = 0; l < n; l += 16)
        {
            __mmask16 mask = cols_mask(n - l);
            _mm256_mask_storeu_epi16(pr + l, mask, (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(mask, sr + l)));
        }
        if (n & 1) pr[n] = 0;
    }
    for (int e0 = 0; e0 < d; e0 += NB)
    {
        block_bf16(R, n2, p2, n2, vp + (long)(e0 / NB) * n2 * NB * 2, acc);
        int cols = d - e0 < NB ? d - e0 : NB;
        for (int r = 0; r < R; r++)
            for (int j = 0; j < 4 && 16 * j < cols; j++)
            {
                __m512 v = _mm512_mul_ps(acc[r][j], _mm512_set1_ps(inv[r]));
                _mm256_mask_storeu_epi16(out + (long)r * t->ldo + e0 + 16 * j, cols_mask(cols - 16 * j), (__m256i)_mm512_cvtneps_pbh(v));
            }
    }
}

AVX512BF16 static void vit_attention_part(void *arg)
{
    const vit_attention_task *t = (const vit_attention_task *)arg;
    long i0, i1;
    share((long)t->b * t->h, &i0, &i1);
    int n = t->n, d = t->d, k2 = d / 2, n2 = (n + 1) / 2, c = t->h * d;
    long kwords = blocks(n) * k2 * NB, vwords = blocks(d) * (long)n2 * NB, swords = (long)MR * blocks(n) * NB, pwords = (long)MR * n2;
    uint32_t *buf = i1 > i0 ? scratch_for(kwords + vwords + swords + pwords) : 0;
    if (i1 > i0 && !buf)
    {
        __atomic_store_n(&((vit_attention_task *)arg)->failed, 1, __ATOMIC_RELAXED);
        return;
    }
    uint16_t *kp = (uint16_t *)buf, *vp = (uint16_t *)(buf + kwords);
    float *s = (float *)(buf + kwords + vwords);
    uint32_t *p2 = buf + kwords + vwords + swords;
    for (long item = i0; item < i1; item++)
    {
        long i = item / t->h, j = item % t->h;
        const uint16_t *rows = t->qkv + i * n * t->ld;
        /* Keys as a packed weight [keys, d] (blocks of 64 keys, pairs of dimensions); values as one [d, keys]. */
        for (long kb = 0; kb < blocks(n); kb++)
            for (int p = 0; p < k2; p++)
                for (int col = 0; col < NB; col++)
                {
                    long key = kb * NB + col;
                    uint32_t pair = 0;
                    if (key < n) memcpy(&pair, rows + key * t->ld + c + j * d + 2 * p, 4);
                    ((uint32_t *)kp)[(kb * k2 + p) * NB + col] = pair;
                }
        for (long eb = 0; eb < blocks(d); eb++)
            for (int p = 0; p < n2; p++)
            {
                const uint16_t *v0 = rows + (2L * p) * t->ld + 2 * c + j * d + eb * NB, *v1 = v0 + t->ld;
                uint16_t *dst = vp + ((eb * n2 + p) * NB) * 2;
                for (int col = 0; col < NB; col++)
                {
                    int in = eb * NB + col < d;
                    dst[2 * col] = in ? v0[col] : 0;
                    dst[2 * col + 1] = in && 2 * p + 1 < n ? v1[col] : 0;
                }
            }
        for (int m0 = 0, r; m0 < n; m0 += r)
        {
            r = tile_rows(n, m0);
            const uint32_t *q2 = (const uint32_t *)(rows + (long)m0 * t->ld + j * d);
            uint16_t *out = t->out + (i * n + m0) * t->ldo + j * d;
#define CALL_ATTEND(R) attend_rows(R, t, q2, kp, vp, s, p2, out)
            ROWS_SWITCH(r, CALL_ATTEND)
#undef CALL_ATTEND
        }
    }
}

/*
 * The ViT's multi-head attention in bf16: out = softmax(scale Q K^T) V for every image i < b and head j < h,
 * n queries and keys per image, d dimensions per head (even; the rows of qkv and out at even offsets).
 * qkv holds each token's query, key and value (one linear layer's bf16 output, [b*n, ld], ld >= 3*h*d);
 * out [b*n, ldo] gets head j at columns j*d. Scores and softmax in fp32, the weights rounded to bf16
 * for the second product and normalized after it. Returns 0, or -1 when out of memory.
 */
int ck_vit_attention(int b, int n, int h, int d, const uint16_t *qkv, long ld, uint16_t *out, long ldo, float scale, int threads)
{
    if ((d & 1) || (ld & 1) || (ldo & 1)) return -2;
    vit_attention_task t = {b, n, h, d, qkv, ld, out, ldo, scale, 0};
    run(vit_attention_part, &t, threads_for((double)b * h * n * n * d, threads));
    return t.failed ? -1 : 0;
}

/* ---------- attention of one query per sequence and head ---------- */

/* exp(x) for x <= 0 or so (softmax after subtracting the max); Cephes' expf polynomial, ~1e-7 relative. */
AVX512 INLINE __m512 exp512(__m512 x)
{
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.3f));
    x = _mm512_min_ps(x, _mm512_set1_ps(88.3f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500E-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507E-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073E-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894E-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459E-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201E-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}

typedef struct
{
    int b, h, d;
    const float *q;     /* head j of row i at q + i*q_sb + j*d */
    long q_sb;
    const float *newkv; /* self-attention: the new key at newkv + i*q_sb + j*d, its value `c` further; else null */
    long c;
    void *k, *v;        /* keys of (i, j) at k + i*k_sb + j*k_sh, key l at + l*d; values likewise */
    long kv_sb, kv_sh;
    int bf16;
    const int32_t *lens; /* keys per row (self-attention: the new key's position; it attends to 0..pos) */
    int len;             /* keys for every row when lens is null */
    float scale;
    float *out;          /* head j of row i at out + i*out_sb + j*d */
    long out_sb;
} attend_task;

/* exp(s - max) in place over n scores; returns their sum. */
AVX512 INLINE float softmax_numerators(float *s, int n)
{
    __m512 mx = _mm512_set1_ps(-3.0e38f);
    for (int l = 0; l < n; l += 16)
    {
        __mmask16 mask = cols_mask(n - l);
        mx = _mm512_mask_max_ps(mx, mask, mx, _mm512_maskz_loadu_ps(mask, s + l));
    }
    __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
    __m512 sum = _mm512_setzero_ps();
    for (int l = 0; l < n; l += 16)
    {
        __mmask16 mask = cols_mask(n - l);
        __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(mask, s + l), m));
        sum = _mm512_mask_add_ps(sum, mask, sum, e);
        _mm512_mask_storeu_ps(s + l, mask, e);
    }
    return _mm512_reduce_add_ps(sum);
}

AVX512BF16 INLINE __m512 bf16_to_f32(__m256i h) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); }

#define DIMS_CHUNK 128 /* dimensions of the output summed at once */

/* o = inv * sum_l w[l] V[l], values by key ([n][d], fp32), each value row read once, in order. */
AVX512 static void weighted_values_f32(const float *w, const float *v, int d, int n, float inv, float *o)
{
    for (int e0 = 0; e0 < d; e0 += DIMS_CHUNK)
    {
        int blocks = (d - e0 < DIMS_CHUNK ? d - e0 : DIMS_CHUNK) / 16;
        __m512 acc[DIMS_CHUNK / 16];
        for (int j = 0; j < DIMS_CHUNK / 16; j++) acc[j] = _mm512_setzero_ps();
        for (int l = 0; l < n; l++)
        {
            __m512 wl = _mm512_set1_ps(w[l]);
            const float *row = v + (long)l * d + e0;
            for (int j = 0; j < DIMS_CHUNK / 16; j++)
                if (j < blocks) acc[j] = _mm512_fmadd_ps(wl, _mm512_loadu_ps(row + 16 * j), acc[j]);
        }
        for (int j = 0; j < blocks; j++) _mm512_storeu_ps(o + e0 + 16 * j, _mm512_mul_ps(acc[j], _mm512_set1_ps(inv)));
    }
}

/* The same with bf16 values by key ([n][d]). */
AVX512BF16 static void weighted_values_bf16(const float *w, const uint16_t *v, int d, int n, float inv, float *o)
{
    for (int e0 = 0; e0 < d; e0 += DIMS_CHUNK)
    {
        int blocks = (d - e0 < DIMS_CHUNK ? d - e0 : DIMS_CHUNK) / 16;
        __m512 acc[DIMS_CHUNK / 16];
        for (int j = 0; j < DIMS_CHUNK / 16; j++) acc[j] = _mm512_setzero_ps();
        for (int l = 0; l < n; l++)
        {
            __m512 wl = _mm512_set1_ps(w[l]);
            const uint16_t *row = v + (long)l * d + e0;
            for (int j = 0; j < DIMS_CHUNK / 16; j++)
                if (j < blocks) acc[j] = _mm512_fmadd_ps(wl, bf16_to_f32(_mm256_loadu_si256((const __m256i *)(row + 16 * j))), acc[j]);
        }
        for (int j = 0; j < blocks; j++) _mm512_storeu_ps(o + e0 + 16 * j, _mm512_mul_ps(acc[j], _mm512_set1_ps(inv)));
    }
}

AVX512 static void attend_f32_part(void *arg)
{
    const attend_task *t = (const attend_task *)arg;
    long i0, i1;
    share((long)t->b * t->h, &i0, &i1);
    int d = t->d;
    for (long item = i0; item < i1; item++)
    {
        long i = item / t->h, j = item % t->h;
        const float *q = t->q + i * t->q_sb + j * d;
        float *k = (float *)t->k + i * t->kv_sb + j * t->kv_sh;
        float *v = (float *)t->v + i * t->kv_sb + j * t->kv_sh;
        int n = t->lens ? t->lens[i] : t->len;
        if (t->newkv)
        {
            const float *nk = t->newkv + i * t->q_sb + j * d;
            memcpy(k + (long)n * d, nk, sizeof(float) * d);
            memcpy(v + (long)n * d, nk + t->c, sizeof(float) * d);
            n++;
        }
        float s[n + 16];
        for (int l = 0; l < n; l++)
        {
            __m512 acc = _mm512_setzero_ps();
            for (int e = 0; e < d; e += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(q + e), _mm512_loadu_ps(k + (long)l * d + e), acc);
            s[l] = _mm512_reduce_add_ps(acc) * t->scale;
        }
        float inv = 1.0f / softmax_numerators(s, n);
        weighted_values_f32(s, v, d, n, inv, t->out + i * t->out_sb + j * d);
    }
}

AVX512BF16 static void attend_bf16_part(void *arg)
{
    const attend_task *t = (const attend_task *)arg;
    long i0, i1;
    share((long)t->b * t->h, &i0, &i1);
    int d = t->d;
    for (long item = i0; item < i1; item++)
    {
        long i = item / t->h, j = item % t->h;
        const float *qf = t->q + i * t->q_sb + j * d;
        uint16_t *k = (uint16_t *)t->k + i * t->kv_sb + j * t->kv_sh;
        uint16_t *v = (uint16_t *)t->v + i * t->kv_sb + j * t->kv_sh;
        int n = t->lens ? t->lens[i] : t->len;
        if (t->newkv)
        {
            const float *nk = t->newkv + i * t->q_sb + j * d;
            for (int e = 0; e < d; e++)
            {
                k[(long)n * d + e] = to_bf16(nk[e]);
                v[(long)n * d + e] = to_bf16(nk[t->c + e]);
            }
            n++;
        }
        /* The query in bf16, as a bf16 linear layer would have produced it. */
        uint16_t q[d];
        for (int e = 0; e < d; e++) q[e] = to_bf16(qf[e]);
        float s[n + 16];
        for (int l = 0; l < n; l++)
        {
            __m512 acc = _mm512_setzero_ps();
            for (int e = 0; e < d; e += 32)
            {
                __mmask32 mask = d - e >= 32 ? 0xffffffffu : (1u << (d - e)) - 1u;
                acc = _mm512_dpbf16_ps(acc, (__m512bh)_mm512_maskz_loadu_epi16(mask, q + e), (__m512bh)_mm512_maskz_loadu_epi16(mask, k + (long)l * d + e));
            }
            s[l] = _mm512_reduce_add_ps(acc) * t->scale;
        }
        float inv = 1.0f / softmax_numerators(s, n);
        weighted_values_bf16(s, v, d, n, inv, t->out + i * t->out_sb + j * d);
    }
}

/*
 * out[i, j*d:(j+1)*d] = softmax(scale * q_ij . K_ij[l]) . V_ij[l] over the row's keys, for every row
 * i < b and head j < h; d a multiple of 16; keys and values [len][d] per row and head.
 * Cross-attention: lens and newkv null, `len` keys for every row. Self-attention with a cache: newkv is
 * the row's new key (its value `c` elements further), written at position lens[i] of K and V (fp32
 * or bf16, rounded) before the query attends to positions 0..lens[i].
 */
void ck_attend(int b, int h, int d, const float *q, long q_sb, const float *newkv, long c, void *k, void *v, long kv_sb, long kv_sh,
               int bf16, const int32_t *lens, int len, float scale, float *out, long out_sb, int threads)
{
    attend_task t = {b, h, d, q, q_sb, newkv, c, k, v, kv_sb, kv_sh, bf16, lens, len, scale, out, out_sb};
    double work = (double)b * h * d * (lens ? 64 : len) * 2;
    run(bf16 ? attend_bf16_part : attend_f32_part, &t, threads_for(work, threads));
}

/* ---------- the k largest of each row ---------- */

typedef struct
{
    int m, n, k;
    const float *x;
    long ldx;
    int64_t *out;
} topk_task;

AVX512 static void top_k_part(void *arg)
{
    const topk_task *t = (const topk_task *)arg;
    long r0, r1;
    share(t->m, &r0, &r1);
    int k = t->k;
    for (long r = r0; r < r1; r++)
    {
        const float *x = t->x + r * t->ldx;
        int64_t *idx = t->out + r * k;
        float val[k];
        /* The first k, then every later value above the smallest kept replaces it. */
        int low = 0;
        for (int i = 0; i < k; i++)
        {
            val[i] = x[i];
            idx[i] = i;
            if (val[i] < val[low]) low = i;
        }
        for (int i0 = k; i0 < t->n; i0 += 16)
        {
            __mmask16 in = cols_mask(t->n - i0);
            __m512 v = _mm512_maskz_loadu_ps(in, x + i0);
            __mmask16 above = _mm512_mask_cmp_ps_mask(in, v, _mm512_set1_ps(val[low]), _CMP_GT_OQ);
            while (above)
            {
                int b = __builtin_ctz(above);
                above &= above - 1;
                float candidate = x[i0 + b];
                if (!(candidate > val[low])) continue;
                val[low] = candidate;
                idx[low] = i0 + b;
                for (int i = 0; i < k; i++)
                    if (val[i] < val[low]) low = i;
            }
        }
    }
}

/* The indices of the k largest values of each row of x [m, n] (k <= n; in no particular order; NaN
   never counts as large) into out [m, k]. */
void ck_top_k(int m, int n, int k, const float *x, long ldx, int64_t *out, int threads)
{
    topk_task t = {m, n, k, x, ldx, out};
    run(top_k_part, &t, threads_for((double)m * n, threads));
}

/* ---------- each row's arg-max and log-sum-exp (the next token of greedy rows, and its score) ---------- */

typedef struct
{
    int m, n;
    const float *x;
    long ldx;
    int64_t *argmax;
    double *sum;
} row_stats_task;

AVX512 static void row_stats_part(void *arg)
{
    const row_stats_task *t = (const row_stats_task *)arg;
    long r0, r1;
    share(t->m, &r0, &r1);
    const __m512 minus_inf = _mm512_set1_ps(-__builtin_inff());
    for (long r = r0; r < r1; r++)
    {
        const float *x = t->x + r * t->ldx;
        int n = t->n;
        /* Per lane: the largest value and the first column holding it; a NaN anywhere wins, as in torch.argmax. */
        __m512 best = minus_inf;
        __m512i at = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        __mmask16 nan = 0;
        long first_nan = -1;
        for (int i0 = 0; i0 < n; i0 += 16)
        {
            __mmask16 in = cols_mask(n - i0);
            __m512 v = _mm512_mask_loadu_ps(minus_inf, in, x + i0);
            nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
            if (nan)
            {
                first_nan = i0 + __builtin_ctz(nan);
                break;
            }
            __mmask16 above = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ);
            best = _mm512_mask_mov_ps(best, above, v);
            at = _mm512_mask_mov_epi32(at, above, _mm512_add_epi32(_mm512_set1_epi32(i0), _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)));
        }
        if (first_nan >= 0)
        {
            t->argmax[r] = first_nan;
            t->sum[r] = __builtin_nan("");
            continue;
        }
        float mx = _mm512_reduce_max_ps(best);
        __mmask16 winners = _mm512_cmp_ps_mask(best, _mm512_set1_ps(mx), _CMP_EQ_OQ);
        int index = _mm512_mask_reduce_min_epi32(winners, at);
        t->argmax[r] = index;
        if (!(mx > -__builtin_inff() && mx < __builtin_inff()))
        {
            t->sum[r] = __builtin_nan(""); /* all -inf (every token banned) or +inf: no finite log-probabilities */
            continue;
        }
        /* sum of exp(x - max), in double across chunks (each chunk's 16 lanes in fp32, as libtorch's vectorized sum). */
        __m512 m = _mm512_set1_ps(mx);
        double total = 0;
        for (int i0 = 0; i0 < n; i0 += 256)
        {
            __m512 acc = _mm512_setzero_ps();
            for (int i = i0; i < i0 + 256 && i < n; i += 16)
            {
                __mmask16 in = cols_mask(n - i);
                __m512 e = exp512(_mm512_sub_ps(_mm512_mask_loadu_ps(minus_inf, in, x + i), m));
                acc = _mm512_add_ps(acc, _mm512_maskz_mov_ps(in, e));
            }
            total += _mm512_reduce_add_ps(acc);
        }
        t->sum[r] = total;
    }
}

/* For each row of x [m, n] fp32: the first column of its largest value (a NaN's, when it has one: as torch.argmax)
   and the sum of exp(x - max) over the row (NaN when the max is NaN or infinite): the arg-max's log-probability is
   -log(sum). */
void ck_row_stats(int m, int n, const float *x, long ldx, int64_t *argmax, double *sum, int threads)
{
    row_stats_task t = {m, n, x, ldx, argmax, sum};
    run(row_stats_part, &t, threads_for((double)m * n * 8, threads));
}

/* ---------- the CPU's arithmetic peak ---------- */

typedef struct
{
    long iterations;
    int bf16;
} peak_task;

/* 12 independent chains of 512-bit FMAs (2 x 16 FLOPs each) or AVX512-BF16 dot products (2 x 32), in registers;
   the opaque asm keeps the compiler from folding them or moving them to memory. */
#define PEAK_LOOP(OP)                                                                                                         \
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0; \
    for (long it = 0; it < t->iterations; it++)                                                                               \
    {                                                                                                                         \
        a0 = OP(a0); a1 = OP(a1); a2 = OP(a2); a3 = OP(a3); a4 = OP(a4); a5 = OP(a5);                                         \
        a6 = OP(a6); a7 = OP(a7); a8 = OP(a8); a9 = OP(a9); a10 = OP(a10); a11 = OP(a11);                                      \
        __asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5), "+v"(a6), "+v"(a7), "+v"(a8), "+v"(a9), "+v"(a10), "+v"(a11)); \
    }

AVX512 static void peak_f32_part(void *arg)
{
    const peak_task *t = (const peak_task *)arg;
    __m512 x = _mm512_set1_ps(1e-3f);
#define FMA(acc) _mm512_fmadd_ps(x, x, acc)
    PEAK_LOOP(FMA)
#undef FMA
}

AVX512BF16 static void peak_bf16_part(void *arg)
{
    const peak_task *t = (const peak_task *)arg;
    __m512bh x = (__m512bh)_mm512_set1_epi32(0x3a833a83);
#define DOT(acc) _mm512_dpbf16_ps(acc, x, x)
    PEAK_LOOP(DOT)
#undef DOT
}

/* Runs `iterations` rounds of the peak loop on each of `threads` threads; returns the FLOPs done. The caller times it. */
double ck_peak_flops(int bf16, long iterations, int threads)
{
    peak_task t = {iterations, bf16};
    if (threads < 1 || !gomp_parallel) threads = 1;
    run(bf16 ? peak_bf16_part : peak_f32_part, &t, threads);
    return (double)iterations * 12 * (bf16 ? 64 : 32) * threads;
}

