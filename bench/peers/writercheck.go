package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/onnx"
)

// checkWriter is the -check-writer mode: for every model.onnx under root
// that the reader accepts, it writes the model back with onnx.WriteModel
// and has onnxruntime create a session from the original and from the
// written file. A model onnxruntime loads as published but not as written
// is a writer bug (or something the IR drops, such as model-local
// functions), and is listed.
func checkWriter(c config, root string) error {
	var err error
	if c.root, err = moduleRoot(); err != nil {
		return err
	}
	if c.ortDir == "" {
		c.ortDir = filepath.Join(c.root, "bench", "peers", ".ort")
	}
	ort, err := setupORT(c.ortDir, os.Stdout)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "wasmgate-writercheck-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var files []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == "model.onnx" {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		return err
	}
	loads := func(path string) error {
		s, err := startORT(ort, path, 1, dir, nil)
		if err != nil {
			return err
		}
		return s.close()
	}
	var total, unreadable, unwritable, ortRejects, both int
	var broken []string
	for _, f := range files {
		total++
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		m, err := onnx.ReadModel(b)
		if err != nil {
			unreadable++
			continue
		}
		w, err := onnx.WriteModel(m)
		if err != nil {
			unwritable++
			continue
		}
		if loads(f) != nil {
			ortRejects++
			continue
		}
		written := filepath.Join(dir, "written.onnx")
		if err := os.WriteFile(written, w, 0o644); err != nil {
			return err
		}
		if err := loads(written); err != nil {
			msg := err.Error()
			if i := strings.LastIndex(msg, "ortrunner: "); i >= 0 {
				msg = msg[i:]
			}
			broken = append(broken, fmt.Sprintf("%s: %s", filepath.Base(filepath.Dir(f)), msg))
			continue
		}
		both++
	}
	fmt.Printf("# writer check: %d models; %d not readable by the engine's reader; %d not writable; %d rejected by onnxruntime as published\n",
		total, unreadable, unwritable, ortRejects)
	fmt.Printf("writer_check models_loaded_as_published=%d loaded_as_written=%d failed_as_written=%d\n", both+len(broken), both, len(broken))
	for _, b := range broken {
		fmt.Printf("#   written file rejected: %s\n", b)
	}
	return nil
}
