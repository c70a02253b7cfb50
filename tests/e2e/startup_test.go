package e2e

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/tests/harness"
)

// A bad setting stops the server at start with a message naming it.
func TestInvalidConfigRefusesToStart(t *testing.T) {
	cases := []struct {
		env, mention string
	}{
		{"WASMGATE_ADDR=nonsense", "WASMGATE_ADDR"},
		{"WASMGATE_REQUEST_TIMEOUT=-1s", "WASMGATE_REQUEST_TIMEOUT"},
		{"WASMGATE_MEMORY_BUDGET=lots", "WASMGATE_MEMORY_BUDGET"},
		{"WASMGATE_LOG_LEVEL=chatty", "WASMGATE_LOG_LEVEL"},
		{"WASMGATE_CACHE_DIR=relative/dir", "WASMGATE_CACHE_DIR"},
	}
	for _, c := range cases {
		t.Run(c.env, func(t *testing.T) {
			is := is.New(t)
			cmd := exec.Command(bin, "serve")
			cmd.Env = append(os.Environ(), c.env)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			is.True(errors.As(err, &exit))
			is.Equal(exit.ExitCode(), 2)
			if !strings.Contains(string(out), c.mention) {
				t.Errorf("output %q does not name %s", out, c.mention)
			}
		})
	}
	is := is.New(t)
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:99999")
	out, err := cmd.CombinedOutput()
	is.True(err != nil)
	is.True(strings.Contains(string(out), "WASMGATE_ADDR"))
}

// With a cache directory that cannot be created the server still serves,
// and says why compiled code will not be kept.
func TestUnwritableCacheStillServes(t *testing.T) {
	is := is.New(t)
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	is.NoErr(os.WriteFile(blocker, []byte("x"), 0o600))
	s, err := harness.Start(context.Background(), bin, []string{"WASMGATE_CACHE_DIR=" + filepath.Join(blocker, "cache")}, 2*time.Minute)
	is.NoErr(err)
	defer func() { is.NoErr(s.Stop()) }()
	is.True(strings.Contains(s.Logs(), "compile cache unusable"))
	status, resp, _ := post(t, s.URL, "/v2/models/mnist/infer", imageRequest(readFile(t, "../../testdata/mnist/8_28x28.png")))
	is.Equal(status, http.StatusOK)
	is.Equal(label(t, resp), int64(8))
}

// Serving needs no input files and writes nothing but the compile cache,
// which is private to the user. HOME, the working directory and the temp
// directory all point into an empty tree that is checked afterwards.
func TestWritesOnlyTheCompileCache(t *testing.T) {
	is := is.New(t)
	root := t.TempDir()
	home, work, tmp := filepath.Join(root, "home"), filepath.Join(root, "work"), filepath.Join(root, "tmp")
	for _, d := range []string{home, work, tmp} {
		is.NoErr(os.Mkdir(d, 0o755))
	}
	env := []string{"HOME=" + home, "TMPDIR=" + tmp, "XDG_CACHE_HOME=", "WASMGATE_CACHE_DIR="}
	s, err := harness.StartIn(context.Background(), bin, work, env, 2*time.Minute)
	is.NoErr(err)
	status, _, _ := post(t, s.URL, "/v2/models/mnist/infer", imageRequest(readFile(t, "../../testdata/mnist/8_28x28.png")))
	is.Equal(status, http.StatusOK)
	is.NoErr(s.Stop())

	cache := filepath.Join(home, ".cache", "wasmgate", "compile")
	fi, err := os.Stat(cache)
	is.NoErr(err) // the default cache dir is under the user cache dir
	is.Equal(fi.Mode().Perm(), fs.FileMode(0o700))
	var stray []string
	is.NoErr(filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || strings.HasPrefix(p, cache+string(filepath.Separator)) {
			return nil
		}
		stray = append(stray, p)
		return nil
	}))
	is.Equal(stray, []string(nil))
	entries, err := os.ReadDir(cache)
	is.NoErr(err)
	is.True(len(entries) > 0) // the compiled modules are there
}

// A body over WASMGATE_MAX_BODY_BYTES is refused with 413, before the
// server reads it, and the server keeps serving.
func TestBodyLimit(t *testing.T) {
	is := is.New(t)
	s, err := harness.Start(context.Background(), bin, []string{
		"WASMGATE_CACHE_DIR=" + filepath.Join(t.TempDir(), "cache"), "WASMGATE_MAX_BODY_BYTES=2KiB",
	}, 2*time.Minute)
	is.NoErr(err)
	defer func() { is.NoErr(s.Stop()) }()
	big := `{"id":"` + strings.Repeat("x", 4096) + `","inputs":[{"name":"pixels","datatype":"FP32","shape":[1,1,28,28],"data":[` + zeros(784) + `]}]}`
	status, resp, _ := post(t, s.URL, "/v2/models/mnist/infer", []byte(big))
	is.Equal(status, http.StatusRequestEntityTooLarge)
	is.True(strings.Contains(resp.Error, "WASMGATE_MAX_BODY_BYTES"))
	status, resp, _ = post(t, s.URL, "/v2/models/mnist/infer", imageRequest(readFile(t, "../../testdata/mnist/8_28x28.png")))
	is.Equal(status, http.StatusOK)
	is.Equal(label(t, resp), int64(8))
}
