/* Measures this machine's single-precision GEMM peak through OpenBLAS (cblas_sgemm), square
 * n x n, best of several repetitions, and prints one JSON line. Thread count: OPENBLAS_NUM_THREADS.
 *   gcc -O2 -o out/bench/sgemm bench/sgemm.c -lopenblas && OPENBLAS_NUM_THREADS=1 out/bench/sgemm 1024 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 1024;
  int reps = argc > 2 ? atoi(argv[2]) : 5;
  float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n), *c = malloc(sizeof(float) * n * n);
  for (long i = 0; i < (long)n * n; i++) {
    a[i] = (float)((i * 7) % 13) / 13.0f;
    b[i] = (float)((i * 5) % 11) / 11.0f;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n); /* warm-up */
  double best = 1e30;
  for (int r = 0; r < reps; r++) {
    double t0 = now_s();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    double dt = now_s() - t0;
    if (dt < best) best = dt;
  }
  printf("{\"n\": %d, \"best_ms\": %.3f, \"gflops\": %.2f, \"check\": %.4f}\n", n, best * 1e3, 2.0 * n * n * n / best / 1e9, c[n + 1]);
  free(a); free(b); free(c);
  return 0;
}
