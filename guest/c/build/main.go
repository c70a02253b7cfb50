// Command build rebuilds the C guest modules (guest/c/<name>/<name>.c) into
// guest/c/wasm and records the toolchain in guest/c/wasm/CLANGVERSION. Run
// it from anywhere in the repository (go tool task guests:c runs it):
//
//	go run ./guest/c/build
//
// It needs clang and lld with the wasm32-wasi sysroot; on Debian 12:
//
//	apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32
//
// Each module is built from the repository root with
//
//	clang --target=wasm32-wasi -O2 -mexec-model=reactor -std=c11 -Wall -Wextra -Werror -I guest/c \
//	  -Wl,--export=wasmgate_abi_version -Wl,--export=wasmgate_input -Wl,--export=wasmgate_describe \
//	  -Wl,--export=wasmgate_run -Wl,--export=wasmgate_output -Wl,--strip-all \
//	  -o guest/c/wasm/<name>.wasm guest/c/<name>/<name>.c guest/c/wasmgate.c
//
// (CPATH and the other variables that add include paths or options are
// cleared), and .wasm files whose source is gone are removed. The build is
// deterministic: the same toolchain gives the same bytes, which a test in
// package guest checks.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/wasmgate/wasmgate/guest/internal/guestbuild"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	root, err := guestbuild.Root(ctx)
	if err != nil {
		return err
	}
	version, err := guestbuild.ClangVersion(ctx, root)
	if err != nil {
		return err
	}
	names, err := guestbuild.CModules(root)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(root, guestbuild.CWasmDir), 0o755); err != nil {
		return err
	}
	for _, name := range names {
		out := guestbuild.CWasmDir + "/" + name + ".wasm"
		if err := guestbuild.BuildC(ctx, root, name, out); err != nil {
			return err
		}
		fi, err := os.Stat(filepath.Join(root, out))
		if err != nil {
			return err
		}
		fmt.Printf("%s\t%d bytes\n", out, fi.Size())
	}
	built, err := guestbuild.CBuilt(root)
	if err != nil {
		return err
	}
	for _, name := range built {
		if !slices.Contains(names, name) {
			if err := os.Remove(filepath.Join(root, guestbuild.CWasmDir, name+".wasm")); err != nil {
				return err
			}
			fmt.Printf("removed %s.wasm (no source)\n", name)
		}
	}
	return os.WriteFile(filepath.Join(root, guestbuild.ClangVersionFile), []byte(version), 0o644)
}
