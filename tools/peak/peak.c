/* The CPU's instruction peaks: the ceiling under every GEMM rate in docs/BENCHMARKS.md.
 *
 * Written by hand because no packaged tool measures the bf16 dot product: likwid-bench (Debian's
 * `likwid`) has float32 FMA kernels (`peakflops_sp_avx512_fma`, a cross-check of the rows below)
 * but none for AVX512-BF16's vdpbf16ps.
 *
 * Each kernel keeps 12 independent accumulators in registers (more than latency x throughput of
 * either instruction on Zen 4 or Sapphire Rapids), so it runs at the issue rate; every thread runs
 * the same kernel on its own core at once. Rows:
 *   clock   chains of dependent 1-cycle integer adds: the core clock under load, in GHz
 *   fma256  vfmadd231ps ymm: 8 lanes x 2 flops
 *   fma512  vfmadd231ps zmm: 16 lanes x 2 flops
 *   dpbf16  vdpbf16ps zmm: 16 lanes x 2 bf16 pairs x 2 flops (skipped without AVX512-BF16)
 * x86-64 only. Usage: peak THREADS ROUNDS (threads pinned to CPUs 0..THREADS-1); prints one line per round and
 * kernel, then the medians. */
#define _GNU_SOURCE
#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ACC 12
#define KINDS 4
#define MAX_THREADS 256
#define MAX_ROUNDS 101

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* One kernel: n iterations of a[i] = STEP for each of the ACC accumulators (STEP reads a[i]); the empty asm keeps
 * the loop from being folded. */
#define KERNEL(NAME, TARGET, VEC, CONSTRAINT, SETUP, STEP, REDUCE)                   \
    __attribute__((noinline, target(TARGET))) static float NAME(long n) {          \
        VEC a[ACC];                                                                 \
        SETUP;                                                                      \
        for (int i = 0; i < ACC; i++) a[i] = BROADCAST((float)i);                   \
        for (long k = 0; k < n; k++) {                                              \
            for (int i = 0; i < ACC; i++) a[i] = STEP;                              \
            __asm__ volatile("" : "+" CONSTRAINT(x));                               \
        }                                                                           \
        VEC s = a[0];                                                               \
        for (int i = 1; i < ACC; i++) s = ADD(s, a[i]);                             \
        return REDUCE;                                                              \
    }

static inline __attribute__((target("avx2,fma"))) float sum256(__m256 s) {
    float o[8];
    _mm256_storeu_ps(o, s);
    return o[0] + o[7];
}

#define BROADCAST _mm256_set1_ps
#define ADD _mm256_add_ps
KERNEL(fma256, "avx2,fma", __m256, "x",
       __m256 x = _mm256_set1_ps(1.0000001f); __m256 y = _mm256_set1_ps(0.9999999f),
       _mm256_fmadd_ps(a[i], x, y), sum256(s))
#undef BROADCAST
#undef ADD

#define BROADCAST _mm512_set1_ps
#define ADD _mm512_add_ps
KERNEL(fma512, "avx512f", __m512, "v",
       __m512 x = _mm512_set1_ps(1.0000001f); __m512 y = _mm512_set1_ps(0.9999999f),
       _mm512_fmadd_ps(a[i], x, y), _mm512_reduce_add_ps(s))
/* bf16 pairs of 1.0 (0x3f80) */
KERNEL(dpbf16, "avx512f,avx512bf16", __m512, "v",
       __m512bh x = (__m512bh)_mm512_set1_epi16(0x3f80); __m512bh y = (__m512bh)_mm512_set1_epi16(0x3f80),
       _mm512_dpbf16_ps(a[i], x, y), _mm512_reduce_add_ps(s))
#undef BROADCAST
#undef ADD

__attribute__((noinline)) static float add_chain(long n) {
    long v = 0;
    for (long k = 0; k < n; k++)
        __asm__ volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0" : "+r"(v));
    return (float)v;
}

typedef struct {
    const char *name;
    float (*kernel)(long);
    double per_iteration; /* flops, or cycles for the clock */
    long iterations;
    const char *needs;    /* a __builtin_cpu_supports feature, or NULL */
} kind;

static const kind kinds[KINDS] = {
    {"clock", add_chain, 4, 500000000L, NULL},
    {"fma256", fma256, ACC * 8 * 2, 100000000L, "fma"},
    {"fma512", fma512, ACC * 16 * 2, 100000000L, "avx512f"},
    {"dpbf16", dpbf16, ACC * 32 * 2, 100000000L, "avx512bf16"},
};

typedef struct { const kind *k; int cpu; double seconds; float sink; } job;

static void *run(void *p) {
    job *j = p;
    if (j->cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(j->cpu, &set);
        if (sched_setaffinity(0, sizeof set, &set)) {  /* an unpinned thread could share a core: a wrong rate */
            fprintf(stderr, "peak: cannot pin a thread to CPU %d: ", j->cpu);
            perror("sched_setaffinity");
            exit(1);
        }
    }
    double t = now();
    j->sink = j->k->kernel(j->k->iterations);
    j->seconds = now() - t;
    return NULL;
}

static int supported(const char *feature) {
    if (!feature) return 1;
    if (!strcmp(feature, "fma")) return __builtin_cpu_supports("fma");
    if (!strcmp(feature, "avx512f")) return __builtin_cpu_supports("avx512f");
    if (!strcmp(feature, "avx512bf16")) return __builtin_cpu_supports("avx512bf16");
    fprintf(stderr, "peak: no check for the feature '%s'\n", feature);
    exit(1);
}

/* All threads at once; the rate counts the slowest thread's time. */
static double rate(const kind *k, int threads) {
    pthread_t th[MAX_THREADS];
    job jobs[MAX_THREADS];
    for (int i = 0; i < threads; i++) {
        jobs[i] = (job){k, threads > 1 ? i : -1, 0, 0};
        if (pthread_create(&th[i], NULL, run, &jobs[i])) { perror("pthread_create"); exit(1); }
    }
    double slowest = 0;
    float sink = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        if (jobs[i].seconds > slowest) slowest = jobs[i].seconds;
        sink += jobs[i].sink;
    }
    if (sink == 12345.0f) puts(""); /* uses the results */
    return k->per_iteration * k->iterations * threads / slowest / 1e9;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1, rounds = argc > 2 ? atoi(argv[2]) : 5;
    if (threads < 1 || threads > MAX_THREADS) { fprintf(stderr, "peak: THREADS must be 1..%d, got '%s'\n", MAX_THREADS, argv[1]); return 2; }
    if (rounds < 1 || rounds > MAX_ROUNDS) { fprintf(stderr, "peak: ROUNDS must be 1..%d, got '%s'\n", MAX_ROUNDS, argv[2]); return 2; }
    static double results[KINDS][MAX_ROUNDS];
    for (int r = 0; r < rounds; r++)
        for (int k = 0; k < KINDS; k++) {
            if (!supported(kinds[k].needs)) continue;
            results[k][r] = rate(&kinds[k], threads);
            printf("round %d threads %d %-6s %8.2f %s\n", r, threads, kinds[k].name,
                   k == 0 ? results[k][r] / threads : results[k][r], k == 0 ? "GHz per core" : "GFLOP/s");
        }
    for (int k = 0; k < KINDS; k++) {
        if (!supported(kinds[k].needs)) { printf("median threads %d %-6s skipped: this CPU lacks %s\n", threads, kinds[k].name, kinds[k].needs); continue; }
        qsort(results[k], rounds, sizeof(double), by_value);
        double lo = results[k][0], med = results[k][rounds / 2], hi = results[k][rounds - 1];
        if (k == 0) { lo /= threads; med /= threads; hi /= threads; }
        printf("median threads %d %-6s %8.2f (min %.2f, max %.2f) %s\n", threads, kinds[k].name, med, lo, hi,
               k == 0 ? "GHz per core" : "GFLOP/s");
    }
    return 0;
}
