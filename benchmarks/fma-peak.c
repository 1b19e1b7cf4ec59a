// The machine's single-precision FMA peak, for `atalp bench --fma-peak`: every thread runs twelve
// independent chains of AVX-512 fused multiply-adds (enough to keep two FMA units busy through their
// 4-cycle latency), 16 lanes × 2 flops each; the best of five runs. The convolutions' share of this
// peak is what `atalp bench --profile` reports. Hosts differ: measured 2026-11-30 on this 2-core
// machine, 334 GFLOP/s on 2 threads, 160 on one (issue 19's 233 was another day's host).
//
//     gcc -O3 -mavx512f -fopenmp benchmarks/fma-peak.c -o /tmp/fma-peak
//     OMP_NUM_THREADS=2 /tmp/fma-peak
#include <immintrin.h>
#include <stdio.h>
#include <omp.h>

int main(void) {
    const long iterations = 100000000;
    double best = 0;
    for (int run = 0; run < 5; run++) {
        double start = omp_get_wtime();
        float sink = 0;
        #pragma omp parallel reduction(+:sink)
        {
            __m512 b = _mm512_set1_ps(1.0000001f), c = _mm512_set1_ps(1e-7f);
            __m512 a0 = _mm512_set1_ps(0), a1 = _mm512_set1_ps(1), a2 = _mm512_set1_ps(2), a3 = _mm512_set1_ps(3);
            __m512 a4 = _mm512_set1_ps(4), a5 = _mm512_set1_ps(5), a6 = _mm512_set1_ps(6), a7 = _mm512_set1_ps(7);
            __m512 a8 = _mm512_set1_ps(8), a9 = _mm512_set1_ps(9), a10 = _mm512_set1_ps(10), a11 = _mm512_set1_ps(11);
            for (long i = 0; i < iterations; i++) {
#define FMA(x) x = _mm512_fmadd_ps(x, b, c);
                FMA(a0) FMA(a1) FMA(a2) FMA(a3) FMA(a4) FMA(a5) FMA(a6) FMA(a7) FMA(a8) FMA(a9) FMA(a10) FMA(a11)
                // Keeps the chains in registers and the loop from being folded away.
                __asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5),
                                      "+v"(a6), "+v"(a7), "+v"(a8), "+v"(a9), "+v"(a10), "+v"(a11));
            }
            __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                                     _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
            s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
            sink += _mm512_reduce_add_ps(s);
        }
        double seconds = omp_get_wtime() - start;
        double gflops = (double)iterations * 12 * 32 * omp_get_max_threads() / seconds / 1e9;
        if (gflops > best) best = gflops;
        if (sink == 42) printf(" ");  // uses the result
    }
    printf("%d threads: %.1f GFLOP/s single-precision FMA peak (best of 5)\n", omp_get_max_threads(), best);
    return 0;
}
