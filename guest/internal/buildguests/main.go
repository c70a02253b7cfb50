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
		fmt.Fprintln(os.Stderr, "buildguests:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	root, err := guestbuild.Root(ctx)
	if err != nil {
		return err
	}
	names, err := guestbuild.Modules(root)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(root, guestbuild.WasmDir), 0o755); err != nil {
		return err
	}
	for _, name := range names {
		out := filepath.Join(guestbuild.WasmDir, name+".wasm")
		if err := guestbuild.Build(ctx, root, name, out); err != nil {
			return err
		}
		fi, err := os.Stat(filepath.Join(root, out))
		if err != nil {
			return err
		}
		fmt.Printf("%s\t%d bytes\n", out, fi.Size())
	}
	built, err := guestbuild.Built(root)
	if err != nil {
		return err
	}
	for _, name := range built {
		if !slices.Contains(names, name) {
			if err := os.Remove(filepath.Join(root, guestbuild.WasmDir, name+".wasm")); err != nil {
				return err
			}
			fmt.Printf("removed %s.wasm (no source)\n", name)
		}
	}
	v, err := guestbuild.GoVersion(ctx, root)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(root, guestbuild.GoVersionFile), []byte(v+"\n"), 0o644)
}
