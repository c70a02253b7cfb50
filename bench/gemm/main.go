// Command gemm measures the engine's float32 GEMM (kernels.Sgemm and
// kernels.SgemmParallel) against OpenBLAS on the same machine, in the same
// run, on the same inputs.
//
//	go run ./bench/gemm [-pairs 7] [-time 250ms] [-cases 1024x1024x1024/1,...]
//
// OpenBLAS is timed by a small C program (csrc/openblas_bench.c: go build
// refuses C files beside Go files without cgo) that the command compiles
// with the system C compiler against
// Debian's libopenblas-dev. Every case runs as alternating pairs (the
// engine in this process, then OpenBLAS in a fresh child process, each
// making the same number of calls on the same random matrices) and reports
// the median of each side over the pairs, so that load from other users of
// a shared machine hits both sides alike. The child runs with
// OPENBLAS_NUM_THREADS set to the case's thread count and without
// OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, which some machines set to force
// OpenBLAS's slower generic kernels; it prints the core it then picked.
//
// Output, one line per case:
//
//	shape=MxKxN threads=T wasmgate_gflops=X openblas_gflops=Y ratio=X/Y pair_ratio_min=… pair_ratio_max=…
//
// with wasmgate_gbps and openblas_gbps (the matrix streamed per second)
// added for the GEMV case, and '#' lines for context (load, result checks).
package main

import (
	_ "embed"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
)

//go:embed csrc/openblas_bench.c
var cSource []byte

type benchCase struct {
	m, k, n int
	threads int
	gemv    bool // M = 1 against cblas_sgemv instead of cblas_sgemm
}

func (c benchCase) key() string { return fmt.Sprintf("%dx%dx%d/%d", c.m, c.k, c.n, c.threads) }

var defaultCases = []benchCase{
	{64, 64, 64, 1, false}, {64, 64, 64, 2, false},
	{256, 256, 256, 1, false}, {256, 256, 256, 2, false},
	{1024, 1024, 1024, 1, false}, {1024, 1024, 1024, 2, false},
	{32, 768, 3072, 1, false}, {32, 768, 3072, 2, false},
	{1, 768, 3072, 1, true},
}

func main() {
	pairs := flag.Int("pairs", 7, "alternating engine/OpenBLAS measurement pairs per case")
	minTime := flag.Duration("time", 250*time.Millisecond, "minimum duration of one measurement")
	only := flag.String("cases", "", "comma-separated MxKxN/T keys to run (default: all)")
	flag.Parse()
	if err := run(*pairs, *minTime, *only); err != nil {
		fmt.Fprintln(os.Stderr, "gemm:", err)
		os.Exit(1)
	}
}

func run(pairs int, minTime time.Duration, only string) error {
	dir, err := os.MkdirTemp("", "wasmgate-gemm-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin, err := buildOpenBLASBench(dir)
	if err != nil {
		return err
	}
	info, err := exec.Command(bin, "info").Output()
	if err != nil {
		return fmt.Errorf("openblas_bench info: %w", err)
	}
	// info runs with this process's environment, so run it again the way
	// the measurements do to show the core they get.
	cmd := exec.Command(bin, "info")
	cmd.Env = openblasEnv(1)
	childInfo, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("openblas_bench info: %w", err)
	}
	fmt.Printf("# go=%s GOMAXPROCS=%d wasmgate_kernel=%s\n", runtime.Version(), runtime.GOMAXPROCS(0), kernels.SgemmVariant())
	fmt.Printf("# openblas (as measured, OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset): %s\n", oneLine(childInfo))
	if !slices.Equal(info, childInfo) {
		fmt.Printf("# openblas with this shell's environment would use: %s\n", oneLine(info))
	}
	fmt.Printf("# load before: %s\n", loadavg())

	pool := kernels.NewPool(runtime.GOMAXPROCS(0))
	defer pool.Close()
	for _, c := range defaultCases {
		if only != "" && !slices.Contains(strings.Split(only, ","), c.key()) {
			continue
		}
		if err := runCase(c, dir, bin, pool, pairs, minTime); err != nil {
			return fmt.Errorf("case %s: %w", c.key(), err)
		}
	}
	fmt.Printf("# load after: %s\n", loadavg())
	return nil
}

// buildOpenBLASBench compiles openblas_bench.c into dir, or explains how to
// get OpenBLAS when that fails.
func buildOpenBLASBench(dir string) (string, error) {
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "cc"
	}
	if _, err := exec.LookPath(cc); err != nil {
		return "", fmt.Errorf("no C compiler (%s) found: install one (Debian: apt-get install -y gcc libopenblas-dev)", cc)
	}
	src, bin := filepath.Join(dir, "openblas_bench.c"), filepath.Join(dir, "openblas_bench")
	if err := os.WriteFile(src, cSource, 0o644); err != nil {
		return "", err
	}
	out, err := exec.Command(cc, "-O2", "-o", bin, src, "-lopenblas").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("cannot build against OpenBLAS (%v):\n%s\nOpenBLAS is needed for this comparison: on Debian or Ubuntu install it with\n\n\tapt-get install -y libopenblas-dev", err, out)
	}
	return bin, nil
}

// openblasEnv is the child's environment: OPENBLAS_CORETYPE and
// OPENBLAS_L2_SIZE removed (they pin old, slow kernels on some machines)
// and the thread count set.
func openblasEnv(threads int) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "OPENBLAS_NUM_THREADS="+strconv.Itoa(threads))
}

func runCase(c benchCase, dir, bin string, pool *kernels.Pool, pairs int, minTime time.Duration) error {
	r := rand.New(rand.NewPCG(uint64(c.m), uint64(c.n*c.k)))
	a, b := randMatrix(r, c.m*c.k), randMatrix(r, c.k*c.n)
	out := make([]float32, c.m*c.n)
	aPath, bPath, oPath := filepath.Join(dir, "a.bin"), filepath.Join(dir, "b.bin"), filepath.Join(dir, "out.bin")
	if err := writeFloats(aPath, a); err != nil {
		return err
	}
	if err := writeFloats(bPath, b); err != nil {
		return err
	}
	engine := func() {
		if c.threads == 1 {
			kernels.Sgemm(false, false, c.m, c.n, c.k, 1, a, c.k, b, c.n, 0, out, c.n)
			return
		}
		kernels.SgemmParallel(pool, c.threads, false, false, c.m, c.n, c.k, 1, a, c.k, b, c.n, 0, out, c.n)
	}
	// Calibrate: enough calls for minTime on the engine; OpenBLAS makes
	// the same number.
	engine()
	t0 := time.Now()
	engine()
	one := time.Since(t0)
	iters := max(3, int(math.Ceil(float64(minTime)/float64(max(one, time.Nanosecond)))))

	op := "gemm"
	if c.gemv {
		op = "gemv"
	}
	args := []string{op, strconv.Itoa(c.m), strconv.Itoa(c.k), strconv.Itoa(c.n), strconv.Itoa(c.threads), strconv.Itoa(iters), aPath, bPath, oPath}
	var wg, ob, ratios []float64
	flops := 2 * float64(c.m) * float64(c.n) * float64(c.k)
	for range pairs {
		engine() // warm-up, as the C side makes one
		t0 := time.Now()
		for range iters {
			engine()
		}
		wsec := time.Since(t0).Seconds()

		cmd := exec.Command(bin, args...)
		cmd.Env = openblasEnv(c.threads)
		res, err := cmd.Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return fmt.Errorf("openblas_bench: %v: %s", err, ee.Stderr)
			}
			return err
		}
		s, ok := strings.CutPrefix(strings.TrimSpace(string(res)), "seconds=")
		osec, err := strconv.ParseFloat(s, 64)
		if !ok || err != nil {
			return fmt.Errorf("openblas_bench printed %q", res)
		}
		w, o := flops*float64(iters)/wsec/1e9, flops*float64(iters)/osec/1e9
		wg, ob, ratios = append(wg, w), append(ob, o), append(ratios, w/o)
	}
	// Both sides computed the same product: check them against each other.
	theirs, err := readFloats(oPath, len(out))
	if err != nil {
		return err
	}
	diff, scale := 0.0, 0.0
	for i := range out {
		diff = max(diff, math.Abs(float64(out[i])-float64(theirs[i])))
		scale = max(scale, math.Abs(float64(theirs[i])))
	}
	mw, mo := median(wg), median(ob)
	line := fmt.Sprintf("shape=%dx%dx%d threads=%d wasmgate_gflops=%.1f openblas_gflops=%.1f ratio=%.3f", c.m, c.k, c.n, c.threads, mw, mo, mw/mo)
	if c.gemv {
		gb := 4 * float64(c.k) * float64(c.n) / flops // matrix bytes per flop
		line += fmt.Sprintf(" wasmgate_gbps=%.1f openblas_gbps=%.1f", mw*gb, mo*gb)
	}
	line += fmt.Sprintf(" pair_ratio_min=%.3f pair_ratio_max=%.3f", slices.Min(ratios), slices.Max(ratios))
	fmt.Println(line)
	fmt.Printf("#   %s: %d calls per measurement; max |engine-openblas| / max|C| = %.1e; load %s\n", c.key(), iters, diff/max(scale, 1e-30), loadavg())
	if !(diff <= 1e-3*scale) { // NaN fails too
		return fmt.Errorf("engine and OpenBLAS disagree: max difference %g against max |C| %g", diff, scale)
	}
	return nil
}

func randMatrix(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.Float64() - 0.5)
	}
	return s
}

func writeFloats(path string, s []float32) error {
	buf := make([]byte, 4*len(s))
	for i, v := range s {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
	}
	return os.WriteFile(path, buf, 0o644)
}

func readFloats(path string, n int) ([]float32, error) {
	buf, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(buf) != 4*n {
		return nil, fmt.Errorf("%s: %d bytes, want %d", path, len(buf), 4*n)
	}
	s := make([]float32, n)
	for i := range s {
		s[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
	}
	return s, nil
}

func median(x []float64) float64 {
	s := slices.Sorted(slices.Values(x))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func oneLine(b []byte) string { return strings.Join(strings.Fields(string(b)), " ") }

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
