package guest_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/guest"
	"github.com/wasmgate/wasmgate/guest/internal/guestbuild"
)

// TestBuiltModulesAreFresh rebuilds every module with the committed command
// and compares the bytes, so a change to a module or the SDK cannot ship
// without its .wasm.
func TestBuiltModulesAreFresh(t *testing.T) {
	ctx := context.Background()
	root, err := guestbuild.Root(ctx)
	if err != nil {
		t.Fatal(err)
	}
	recorded, err := os.ReadFile(filepath.Join(root, guestbuild.GoVersionFile))
	if err != nil {
		t.Fatalf("%v (regenerate with: %s)", err, guestbuild.Regenerate)
	}
	have, err := guestbuild.GoVersion(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.TrimSpace(string(recorded)); have != want {
		t.Skipf("guest/wasm was built with %s and this toolchain is %s; the bytes depend on the toolchain, so they cannot be compared", want, have)
	}

	modules, err := guestbuild.Modules(root)
	if err != nil {
		t.Fatal(err)
	}
	built, err := guestbuild.Built(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(modules) == 0 {
		t.Fatalf("no modules under %s", guestbuild.ModulesDir)
	}
	for _, name := range built {
		if !slices.Contains(modules, name) {
			t.Errorf("%s/%s.wasm has no source in %s/%s: remove it, or run %s", guestbuild.WasmDir, name, guestbuild.ModulesDir, name, guestbuild.Regenerate)
		}
	}

	tmp := t.TempDir()
	freshCache := filepath.Join(tmp, "gocache")
	for _, name := range modules {
		t.Run(name, func(t *testing.T) {
			regen := "regenerate it with:\n\t" + guestbuild.CommandLine(name) + "\nor all modules with:\n\t" + guestbuild.Regenerate
			committed, err := os.ReadFile(filepath.Join(root, guestbuild.WasmDir, name+".wasm"))
			if err != nil {
				t.Fatalf("module %s has no committed .wasm (%v); %s", name, err, regen)
			}
			out := filepath.Join(tmp, name+".wasm")
			if err := guestbuild.Build(ctx, root, name, out); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, committed) {
				t.Errorf("%s/%s.wasm is stale (committed %d bytes, a rebuild gives %d); %s",
					guestbuild.WasmDir, name, len(committed), len(got), regen)
			}
			if testing.Short() {
				return
			}
			// go build caches linked outputs, so a second build in the same
			// cache proves nothing: rebuild from an empty one.
			out2 := filepath.Join(tmp, name+".fresh.wasm")
			if err := guestbuild.Build(ctx, root, name, out2, "GOCACHE="+freshCache); err != nil {
				t.Fatal(err)
			}
			got2, err := os.ReadFile(out2)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, got2) {
				t.Errorf("building %s twice gave different bytes (%d and %d): the build is not reproducible", name, len(got), len(got2))
			}
		})
	}
}

// TestCModulesAreFresh rebuilds every C module with the committed command
// when clang for wasm32-wasi is here, and compares the bytes.
func TestCModulesAreFresh(t *testing.T) {
	ctx := context.Background()
	root, err := guestbuild.Root(ctx)
	if err != nil {
		t.Fatal(err)
	}
	modules, err := guestbuild.CModules(root)
	if err != nil {
		t.Fatal(err)
	}
	built, err := guestbuild.CBuilt(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(modules) == 0 {
		t.Fatalf("no C modules under %s", guestbuild.CDir)
	}
	if !slices.Equal(modules, built) {
		t.Fatalf("%s holds %v, the sources under %s are %v; regenerate with: %s", guestbuild.CWasmDir, built, guestbuild.CDir, modules, guestbuild.RegenerateC)
	}
	recorded, err := os.ReadFile(filepath.Join(root, guestbuild.ClangVersionFile))
	if err != nil {
		t.Fatalf("%v (regenerate with: %s)", err, guestbuild.RegenerateC)
	}
	have, err := guestbuild.ClangVersion(ctx, root)
	if err != nil {
		t.Skipf("cannot check the C modules: %v", err)
	}
	if have != string(recorded) {
		t.Skipf("%s was built with\n%sand this toolchain is\n%sthe bytes depend on it, so they cannot be compared",
			guestbuild.CWasmDir, recorded, have)
	}
	tmp := t.TempDir()
	for _, name := range modules {
		t.Run(name, func(t *testing.T) {
			regen := "regenerate it with:\n\t" + guestbuild.CCommandLine(name) + "\nor all C modules with:\n\t" + guestbuild.RegenerateC
			committed, err := os.ReadFile(filepath.Join(root, guestbuild.CWasmDir, name+".wasm"))
			if err != nil {
				t.Fatal(err)
			}
			var got [2][]byte
			for i := range got {
				out := filepath.Join(tmp, fmt.Sprintf("%s.%d.wasm", name, i))
				if err := guestbuild.BuildC(ctx, root, name, out); err != nil {
					t.Fatal(err)
				}
				if got[i], err = os.ReadFile(out); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(got[0], got[1]) {
				t.Fatalf("building %s twice gave different bytes (%d and %d): the build is not reproducible", name, len(got[0]), len(got[1]))
			}
			if !bytes.Equal(got[0], committed) {
				t.Errorf("%s/%s.wasm is stale (committed %d bytes, a rebuild gives %d); %s",
					guestbuild.CWasmDir, name, len(committed), len(got[0]), regen)
			}
			if bytes.Contains(got[0], []byte(root)) {
				t.Errorf("%s.wasm holds the path of this checkout", name)
			}
		})
	}
}

func TestEmbedded(t *testing.T) {
	is := is.New(t)
	root, err := guestbuild.Root(context.Background())
	is.NoErr(err)
	built, err := guestbuild.Built(root)
	is.NoErr(err)
	is.Equal(guest.Names(), built)
	for _, name := range built {
		want, err := os.ReadFile(filepath.Join(root, guestbuild.WasmDir, name+".wasm"))
		is.NoErr(err)
		got, ok := guest.Module(name)
		is.True(ok)
		is.True(bytes.Equal(got, want))
		is.True(bytes.HasPrefix(got, []byte("\x00asm")))
	}
	cbuilt, err := guestbuild.CBuilt(root)
	is.NoErr(err)
	is.True(len(cbuilt) > 0)
	var cnames []string
	for _, name := range cbuilt {
		cnames = append(cnames, guest.CPrefix+name)
		want, err := os.ReadFile(filepath.Join(root, guestbuild.CWasmDir, name+".wasm"))
		is.NoErr(err)
		got, ok := guest.Module(guest.CPrefix + name)
		is.True(ok)
		is.True(bytes.Equal(got, want))
	}
	is.Equal(guest.CNames(), cnames)
	for _, bad := range []string{"", "nope", "../wasm/mnistpre", "wasm/mnistpre", "mnistpre.wasm", "c/", "c/mnistpre", "c/../wasm/mnistpre", "c/c/mnistpost", "C/mnistpost", "c\\mnistpost"} {
		_, ok := guest.Module(bad)
		is.True(!ok) // no such module
	}
}
