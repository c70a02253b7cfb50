package guestbuild

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// Paths relative to the repository root.
const (
	ModulesDir = "guest/modules"
	WasmDir    = "guest/wasm"
	// GoVersionFile records the toolchain that built WasmDir: the bytes
	// depend on it.
	GoVersionFile = "guest/wasm/GOVERSION"
)

// Args are the arguments of go build for module name, writing out (a path
// relative to the repository root, or absolute).
func Args(name, out string) []string {
	return []string{"build", "-buildmode=c-shared", "-trimpath", "-buildvcs=false", `-ldflags=-s -w`,
		"-o", out, "./" + ModulesDir + "/" + name}
}

// Env is the environment of the build: the caller's, with the target set.
// GOFLAGS, GOEXPERIMENT and GOWASM are cleared because they change the
// output bytes and are easily left set for host builds.
func Env() []string {
	return append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOFLAGS=", "GOEXPERIMENT=", "GOWASM=")
}

// CommandLine is the build as a shell command, for messages and docs.
func CommandLine(name string) string {
	return fmt.Sprintf(`GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 go build -buildmode=c-shared -trimpath -buildvcs=false -ldflags="-s -w" -o %s/%s.wasm ./%s/%s`,
		WasmDir, name, ModulesDir, name)
}

// Regenerate is the command that rebuilds every module.
const Regenerate = "go run ./guest/internal/buildguests"

// Build builds module name into out, running go from root. extraEnv is
// appended to Env (a test uses it to build with an empty GOCACHE).
func Build(ctx context.Context, root, name, out string, extraEnv ...string) error {
	cmd := exec.CommandContext(ctx, "go", Args(name, out)...)
	cmd.Dir = root
	cmd.Env = append(Env(), extraEnv...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building %s: %v\n%s", name, err, stderr.Bytes())
	}
	return nil
}

// Root is the repository root: the directory of the main module's go.mod.
func Root(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the wasmgate module")
	}
	return filepath.Dir(mod), nil
}

// GoVersion is `go env GOVERSION` as seen from root (which is what a build
// there uses, toolchain switching included).
func GoVersion(ctx context.Context, root string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "env", "GOVERSION")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go env GOVERSION: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// Modules lists the module names: the directories under ModulesDir that
// hold Go files.
func Modules(root string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(root, ModulesDir))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		gofiles, _ := filepath.Glob(filepath.Join(root, ModulesDir, e.Name(), "*.go"))
		if len(gofiles) > 0 {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// Built lists the names of the committed .wasm files in WasmDir.
func Built(root string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(root, WasmDir, "*.wasm"))
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
