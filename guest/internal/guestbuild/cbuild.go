package guestbuild

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// The C guest modules: guest/c/<name>/<name>.c, built with the shared
// guest/c/wasmgate.c into CWasmDir. Paths relative to the repository root.
const (
	CDir     = "guest/c"
	CWasmDir = "guest/c/wasm"
	// ClangVersionFile records the toolchain that built CWasmDir (see
	// ClangVersion): the bytes depend on it.
	ClangVersionFile = "guest/c/wasm/CLANGVERSION"
	// RegenerateC is the command that rebuilds every C module.
	RegenerateC = "go tool task guests:c"
)

// CExports are the exports a C module's link keeps, besides memory and the
// reactor's _initialize: the ABI's (docs/ABI.md §1).
var CExports = []string{"wasmgate_abi_version", "wasmgate_input", "wasmgate_describe", "wasmgate_run", "wasmgate_output"}

// Clang is the compiler: $CLANG, or clang.
func Clang() string {
	if c := os.Getenv("CLANG"); c != "" {
		return c
	}
	return "clang"
}

// CArgs are clang's arguments for module name, writing out (relative to the
// repository root, or absolute). Every path is relative, so the output does
// not depend on where the repository is.
func CArgs(name, out string) []string {
	args := []string{"--target=wasm32-wasi", "-O2", "-mexec-model=reactor", "-std=c11", "-Wall", "-Wextra", "-Werror",
		"-I", CDir}
	for _, e := range CExports {
		args = append(args, "-Wl,--export="+e)
	}
	return append(args, "-Wl,--strip-all", "-o", out, CDir+"/"+name+"/"+name+".c", CDir+"/wasmgate.c")
}

// CCommandLine is the build of module name as a shell command.
func CCommandLine(name string) string {
	return "clang " + strings.Join(CArgs(name, CWasmDir+"/"+name+".wasm"), " ")
}

// cEnv is the caller's environment without the variables that change what
// clang compiles (extra include directories and options).
func cEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "CPATH", "C_INCLUDE_PATH", "CPLUS_INCLUDE_PATH", "OBJC_INCLUDE_PATH", "CCC_OVERRIDE_OPTIONS", "SDKROOT":
			continue
		}
		env = append(env, kv)
	}
	return env
}

func clang(ctx context.Context, root string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, Clang(), args...)
	cmd.Dir = root
	cmd.Env = cEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %v\n%s", Clang(), strings.Join(args, " "), err, stderr.Bytes())
	}
	return out, nil
}

// BuildC builds C module name into out, running clang from root.
func BuildC(ctx context.Context, root, name, out string) error {
	_, err := clang(ctx, root, CArgs(name, out)...)
	return err
}

// ErrNoClang is wrapped by ClangVersion's error when there is no clang that
// can build for wasm32-wasi.
var ErrNoClang = errors.New("no clang for wasm32-wasi")

// ClangVersion identifies the toolchain the C modules are built with: the
// first line of clang --version, and a digest of the files of the
// wasm32-wasi sysroot a module links (wasi-libc's libc.a and
// crt1-reactor.o, compiler-rt's builtins), which change the bytes too.
func ClangVersion(ctx context.Context, root string) (string, error) {
	out, err := clang(ctx, root, "--version")
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNoClang, err)
	}
	version, _, _ := strings.Cut(string(out), "\n")
	h := sha256.New()
	for _, q := range []string{"-print-file-name=libc.a", "-print-file-name=crt1-reactor.o", "-print-libgcc-file-name"} {
		p, err := clang(ctx, root, "--target=wasm32-wasi", "-mexec-model=reactor", q)
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrNoClang, err)
		}
		path := strings.TrimSpace(string(p))
		b, err := os.ReadFile(path)
		if err != nil || !filepath.IsAbs(path) {
			return "", fmt.Errorf("%w: %s %s finds no file (%s): install wasi-libc and libclang-rt-*-dev-wasm32", ErrNoClang, Clang(), q, path)
		}
		h.Write(b)
	}
	return fmt.Sprintf("%s\nwasm32-wasi sysroot sha256:%s\n", strings.TrimSpace(version), hex.EncodeToString(h.Sum(nil))[:16]), nil
}

// CModules lists the C module names: the directories under CDir that hold
// <name>.c.
func CModules(root string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(root, CDir))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, CDir, e.Name(), e.Name()+".c")); err == nil {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// CBuilt lists the names of the committed .wasm files in CWasmDir.
func CBuilt(root string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(root, CWasmDir, "*.wasm"))
	if err != nil {
		return nil, err
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = strings.TrimSuffix(filepath.Base(f), ".wasm")
	}
	sort.Strings(names)
	return names, nil
}
