/*
 * openblas_bench times OpenBLAS on one GEMM or GEMV shape for bench/gemm,
 * which compiles it with `cc -O2 openblas_bench.c -lopenblas` and runs it
 * once per measurement, alternating with the engine's own timing.
 *
 *   openblas_bench info
 *       prints OpenBLAS's core name and build configuration.
 *   openblas_bench gemm|gemv M K N THREADS ITERS A.bin B.bin OUT.bin
 *       reads A (M×K) and B (K×N), row-major float32, makes one untimed
 *       warm-up call, then times ITERS calls and prints "seconds=S". The
 *       result of the last call is written to OUT.bin so the caller can
 *       check it against the engine's.
 *
 * gemm is cblas_sgemm(RowMajor, NoTrans, NoTrans): C = A·B, alpha 1,
 * beta 0. gemv needs M = 1 and computes y = x·B with x the single row of A:
 * with B K×N row-major that is cblas_sgemv(RowMajor, Trans, K, N, 1, B, N,
 * x, 1, 0, y, 1), OpenBLAS's own kernel for the engine's layout (calling
 * sgemm with M = 1 takes a slower, non-GEMV path).
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Declared by OpenBLAS's cblas.h; repeated so that the program still
 * builds against a cblas.h that lacks them (it then fails to link, which
 * the caller reports). */
char *openblas_get_corename(void);
char *openblas_get_config(void);
void openblas_set_num_threads(int);

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static float *load(const char *path, long n) {
	float *p = malloc(n * sizeof(float));
	FILE *f = fopen(path, "rb");
	if (!p || !f || fread(p, sizeof(float), n, f) != (size_t)n) {
		fprintf(stderr, "openblas_bench: cannot read %ld floats from %s\n", n, path);
		exit(2);
	}
	fclose(f);
	return p;
}

int main(int argc, char **argv) {
	if (argc == 2 && strcmp(argv[1], "info") == 0) {
		printf("corename=%s\nconfig=%s\n", openblas_get_corename(), openblas_get_config());
		return 0;
	}
	if (argc != 10) {
		fprintf(stderr, "usage: openblas_bench info | gemm|gemv M K N THREADS ITERS A.bin B.bin OUT.bin\n");
		return 2;
	}
	int gemv = strcmp(argv[1], "gemv") == 0;
	long m = atol(argv[2]), k = atol(argv[3]), n = atol(argv[4]);
	int threads = atoi(argv[5]);
	long iters = atol(argv[6]);
	if (gemv && m != 1) {
		fprintf(stderr, "openblas_bench: gemv needs M = 1\n");
		return 2;
	}
	openblas_set_num_threads(threads);
	float *a = load(argv[7], m * k), *b = load(argv[8], k * n);
	float *c = calloc(m * n, sizeof(float));
	double t = 0;
	for (long i = -1; i < iters; i++) {
		if (i == 0)
			t = now(); /* call -1 is the warm-up */
		if (gemv)
			cblas_sgemv(CblasRowMajor, CblasTrans, k, n, 1, b, n, a, 1, 0, c, 1);
		else
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1, a, k, b, n, 0, c, n);
	}
	t = now() - t;
	FILE *f = fopen(argv[9], "wb");
	if (!f || fwrite(c, sizeof(float), m * n, f) != (size_t)(m * n)) {
		fprintf(stderr, "openblas_bench: cannot write %s\n", argv[9]);
		return 2;
	}
	fclose(f);
	printf("seconds=%.9f\n", t);
	return 0;
}
