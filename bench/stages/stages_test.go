package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/modules"
)

// The bench measures what it says on a short run: every Wasm row carries a
// trace of exactly its calls, with the bytes it moved.
func TestStagesMeasureTheirCalls(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	if err := os.Chdir("../.."); err != nil { // the bench runs from the repository root
		t.Fatal(err)
	}
	rt, err := modules.NewRuntime(ctx, modules.Config{CacheDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	is.NoErr(err)
	defer rt.Close(ctx)
	floor, err := floorRow(ctx, rt, 20)
	is.NoErr(err)
	is.Equal(floor.trace.Calls, 1) // per call
	is.Equal(floor.copies, 4.0)    // in twice, out twice

	rows, err := mnist(ctx, rt, nil, 20)
	is.NoErr(err)
	is.Equal(len(rows), 4) // pre, engine, post, pipeline
	for _, r := range rows {
		is.True(r.median > 0)
		if r.kind == "wasm" {
			is.True(r.trace.InBytes > 0 && r.trace.OutBytes > 0)
			is.True(r.trace.Guest > 0)
			is.True(r.copies >= 4)
		}
	}
	is.Equal(rows[0].trace.HostFunctions.ReadBytes, int64(28*28)) // mnistpre reads the decoded image once
}
