package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

//go:embed csrc/ortrunner.c
var runnerSource []byte

// The peer: onnxruntime's native library from its Node.js package (DESIGN.md
// §6), driven through its C API. That package ships no C header, so the
// header comes from another npm package that bundles onnxruntime's
// headers: a Unity plugin whose iOS framework carries onnxruntime 1.29's
// include files (C API version 29, which the 1.30 library serves: the C API
// is versioned and backward compatible). Only the headers are kept.
const (
	ortPackage    = "onnxruntime-node@1.30.0"
	headerPackage = "com.github.asus4.onnxruntime@0.4.9"
	headerTarball = "com.github.asus4.onnxruntime-0.4.9.tgz"
	headerPrefix  = "package/Plugins/iOS~/onnxruntime.xcframework/ios-arm64/onnxruntime.framework/Headers/"
)

// ortSetup is what the bench needs to run onnxruntime.
type ortSetup struct {
	lib    string // libonnxruntime.so.1
	runner string // the compiled ortrunner
	noSpin bool   // turn the intra-op threads' spin-waiting off
	// profile, when set, turns onnxruntime's session profiling on, writing
	// to files with this prefix (ortSession.profile).
	profile string
}

// setupORT installs onnxruntime and its C header into cache with npm when
// they are missing, and compiles ortrunner against them, saying what it
// does on log.
func setupORT(cache string, log io.Writer) (ortSetup, error) {
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return ortSetup{}, err
	}
	arch := map[string]string{"amd64": "x64", "arm64": "arm64"}[runtime.GOARCH]
	if runtime.GOOS != "linux" || arch == "" {
		return ortSetup{}, fmt.Errorf("onnxruntime-node ships no library for %s/%s here", runtime.GOOS, runtime.GOARCH)
	}
	lib := filepath.Join(cache, "node_modules", "onnxruntime-node", "bin", "napi-v6", "linux", arch, "libonnxruntime.so.1")
	if _, err := os.Stat(lib); err != nil {
		fmt.Fprintf(log, "# installing %s into %s: npm install --ignore-scripts %s\n", ortPackage, cache, ortPackage)
		if err := npm(log, "install", "--ignore-scripts", "--no-audit", "--no-fund", "--no-save", "--prefix", cache, ortPackage); err != nil {
			return ortSetup{}, err
		}
		if _, err := os.Stat(lib); err != nil {
			return ortSetup{}, fmt.Errorf("npm installed %s but %s is missing", ortPackage, lib)
		}
	}
	include := filepath.Join(cache, "include")
	if _, err := os.Stat(filepath.Join(include, "onnxruntime_c_api.h")); err != nil {
		fmt.Fprintf(log, "# fetching onnxruntime's C headers: npm pack %s (about 150 MB, once) and keeping only %s*.h\n", headerPackage, headerPrefix)
		if err := npm(log, "pack", "--pack-destination", cache, headerPackage); err != nil {
			return ortSetup{}, err
		}
		tgz := filepath.Join(cache, headerTarball)
		err := extractHeaders(tgz, include)
		os.Remove(tgz)
		if err != nil {
			return ortSetup{}, err
		}
	}
	runner, err := buildRunner(cache, include, log)
	return ortSetup{lib: lib, runner: runner}, err
}

func npm(log io.Writer, args ...string) error {
	if _, err := exec.LookPath("npm"); err != nil {
		return errors.New("npm is not installed: onnxruntime comes from the npm registry (Debian: apt-get install -y npm)")
	}
	cmd := exec.Command("npm", args...)
	cmd.Stdout, cmd.Stderr = log, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("npm %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

// extractHeaders copies the .h files under headerPrefix in the tarball into
// dir, with the package's LICENSE.
func extractHeaders(tgz, dir string) error {
	f, err := os.Open(tgz)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("%s: %w", tgz, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	n := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", tgz, err)
		}
		name := ""
		switch {
		case strings.HasPrefix(h.Name, headerPrefix) && strings.HasSuffix(h.Name, ".h") && !strings.Contains(h.Name[len(headerPrefix):], "/"):
			name = path.Base(h.Name)
		case h.Name == "package/LICENSE":
			name = "LICENSE"
		default:
			continue
		}
		b, err := io.ReadAll(io.LimitReader(tr, 16<<20))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
		n++
	}
	if _, err := os.Stat(filepath.Join(dir, "onnxruntime_c_api.h")); err != nil {
		return fmt.Errorf("%s holds no onnxruntime_c_api.h under %s", tgz, headerPrefix)
	}
	return nil
}

// buildRunner compiles ortrunner.c unless a binary of the same source is
// already in cache.
func buildRunner(cache, include string, log io.Writer) (string, error) {
	sum := sha256.Sum256(runnerSource)
	bin := filepath.Join(cache, "ortrunner-"+hex.EncodeToString(sum[:6]))
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "cc"
	}
	if _, err := exec.LookPath(cc); err != nil {
		return "", fmt.Errorf("no C compiler (%s) to build ortrunner: install one (Debian: apt-get install -y gcc)", cc)
	}
	src := filepath.Join(cache, "ortrunner.c")
	if err := os.WriteFile(src, runnerSource, 0o644); err != nil {
		return "", err
	}
	args := []string{"-O2", "-std=c11", "-Wall", "-I", include, "-o", bin, src, "-ldl"}
	fmt.Fprintf(log, "# building ortrunner: %s %s\n", cc, strings.Join(args, " "))
	if out, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("building ortrunner: %v\n%s", err, out)
	}
	old, _ := filepath.Glob(filepath.Join(cache, "ortrunner-*"))
	for _, o := range old {
		if o != bin {
			os.Remove(o) // built from an earlier source
		}
	}
	return bin, nil
}

// ortSession is one ortrunner process holding one session.
type ortSession struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	stdout  *bufio.Reader
	stderr  bytes.Buffer
	outDir  string
	version string
	api     string // the C API version ortrunner was compiled for
	outputs int
}

// startORT starts ortrunner on a model with the inputs (already written as
// tensor files) and waits until its session is ready.
func startORT(o ortSetup, model string, threads int, outDir string, inputs []namedFile) (*ortSession, error) {
	args := []string{o.lib, model, strconv.Itoa(threads), outDir}
	for _, in := range inputs {
		args = append(args, in.name+"="+in.path)
	}
	s := &ortSession{cmd: exec.Command(o.runner, args...), outDir: outDir}
	s.cmd.Stderr = &s.stderr
	// The spin and profile settings are the bench's alone, whatever the
	// environment has.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ORTRUNNER_NO_SPIN=") && !strings.HasPrefix(kv, "ORTRUNNER_PROFILE=") {
			s.cmd.Env = append(s.cmd.Env, kv)
		}
	}
	if o.noSpin {
		s.cmd.Env = append(s.cmd.Env, "ORTRUNNER_NO_SPIN=1")
	}
	if o.profile != "" {
		s.cmd.Env = append(s.cmd.Env, "ORTRUNNER_PROFILE="+o.profile)
	}
	var err error
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	s.stdout = bufio.NewReaderSize(out, 1<<16)
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	line, err := s.line()
	if err != nil {
		return nil, err
	}
	f := strings.Fields(line)
	if len(f) != 4 || f[0] != "ready" {
		s.close()
		return nil, fmt.Errorf("ortrunner said %q", line)
	}
	s.version = f[1]
	s.outputs, _ = strconv.Atoi(f[2])
	s.api = f[3]
	return s, nil
}

type namedFile struct{ name, path string }

func (s *ortSession) line() (string, error) {
	l, err := s.stdout.ReadString('\n')
	if err != nil {
		s.cmd.Wait()
		return "", fmt.Errorf("ortrunner: %v: %s", err, strings.TrimSpace(s.stderr.String()))
	}
	return strings.TrimSpace(l), nil
}

// run makes n timed session runs and returns their durations.
func (s *ortSession) run(n int) ([]time.Duration, error) {
	if _, err := fmt.Fprintf(s.stdin, "run %d\n", n); err != nil {
		return nil, err
	}
	l, err := s.line()
	if err != nil {
		return nil, err
	}
	f := strings.Fields(l)
	if len(f) != n {
		return nil, fmt.Errorf("ortrunner printed %d times, want %d", len(f), n)
	}
	d := make([]time.Duration, n)
	for i, x := range f {
		ns, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("ortrunner printed %q", x)
		}
		d[i] = time.Duration(ns)
	}
	return d, nil
}

// dump runs once more and returns the outputs.
func (s *ortSession) dump() ([]*tensor.Tensor, error) {
	if _, err := fmt.Fprintln(s.stdin, "dump"); err != nil {
		return nil, err
	}
	if l, err := s.line(); err != nil || l != "dumped" {
		return nil, fmt.Errorf("ortrunner dump: %q %v", l, err)
	}
	outs := make([]*tensor.Tensor, s.outputs)
	for i := range outs {
		t, err := readTensorFile(filepath.Join(s.outDir, fmt.Sprintf("output_%d.bin", i)))
		if err != nil {
			return nil, err
		}
		outs[i] = t
	}
	return outs, nil
}

// profile ends the session's profiling (started with ortSetup.profile)
// and returns the median time of each node over the runs it recorded, in
// the order the nodes first ran.
func (s *ortSession) profile() ([]nodeTime, error) {
	if _, err := fmt.Fprintln(s.stdin, "profile"); err != nil {
		return nil, err
	}
	l, err := s.line()
	if err != nil {
		return nil, err
	}
	path, ok := strings.CutPrefix(l, "profiled ")
	if !ok {
		return nil, fmt.Errorf("ortrunner profile: %q", l)
	}
	return readORTProfile(path)
}

// nodeTime is one node's median time per run in a profile.
type nodeTime struct {
	name, op string
	median   time.Duration
	runs     int
}

// readORTProfile reads onnxruntime's profile, a JSON array of trace
// events, of which each node's kernel time per run is one: category
// "Node", name NODE_kernel_time, dur in microseconds, args.op_name.
func readORTProfile(path string) ([]nodeTime, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var events []struct {
		Cat  string `json:"cat"`
		Name string `json:"name"`
		Dur  int64  `json:"dur"`
		Args struct {
			Op string `json:"op_name"`
		} `json:"args"`
	}
	if err := json.Unmarshal(data, &events); err != nil {
		return nil, fmt.Errorf("onnxruntime profile %s: %w", path, err)
	}
	var order []string
	ops := map[string]string{}
	times := map[string][]time.Duration{}
	for _, e := range events {
		name, ok := strings.CutSuffix(e.Name, "_kernel_time")
		if e.Cat != "Node" || !ok {
			continue
		}
		if _, seen := times[name]; !seen {
			order = append(order, name)
			ops[name] = e.Args.Op
		}
		times[name] = append(times[name], time.Duration(e.Dur)*time.Microsecond)
	}
	nodes := make([]nodeTime, len(order))
	for i, name := range order {
		nodes[i] = nodeTime{name: name, op: ops[name], median: quantile(times[name], 0.5), runs: len(times[name])}
	}
	return nodes, nil
}

func (s *ortSession) close() error {
	fmt.Fprintln(s.stdin, "quit")
	s.stdin.Close()
	return s.cmd.Wait()
}
