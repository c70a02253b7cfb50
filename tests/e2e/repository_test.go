package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/tests/harness"
)

type indexEntry struct {
	Name, Version, State, Reason string
}

func index(t *testing.T, base string, body string) []indexEntry {
	t.Helper()
	resp, err := client.Post(base+"/v2/repository/index", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("index: status %d", resp.StatusCode)
	}
	var out []indexEntry
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// Triton's repository extension: unload makes infer answer 503, loading
// again serves again. Runs on its own server so it cannot disturb others.
func TestRepositoryUnloadLoad(t *testing.T) {
	is := is.New(t)
	s, err := harness.Start(context.Background(), bin, []string{"WASMGATE_CACHE_DIR=" + filepath.Join(t.TempDir(), "cache")}, 2*time.Minute)
	is.NoErr(err)
	defer func() { is.NoErr(s.Stop()) }()
	png := readFile(t, "../../testdata/mnist/8_28x28.png")

	is.Equal(index(t, s.URL, ""), []indexEntry{{"mnist", "1", "READY", ""}})

	status, _, _ := post(t, s.URL, "/v2/repository/models/mnist/unload", nil)
	is.Equal(status, http.StatusOK)
	is.Equal(index(t, s.URL, `{}`), []indexEntry{{"mnist", "1", "UNAVAILABLE", "unloaded"}})
	is.Equal(len(index(t, s.URL, `{"ready": true}`)), 0)

	status, resp, _ := post(t, s.URL, "/v2/models/mnist/infer", imageRequest(png))
	is.Equal(status, http.StatusServiceUnavailable)
	is.True(resp.Error != "")
	st, _ := get(t, s.URL, "/v2/models/mnist/ready")
	is.Equal(st, http.StatusServiceUnavailable)
	st, _ = get(t, s.URL, "/v2/models/mnist")
	is.Equal(st, http.StatusServiceUnavailable)
	st, _ = get(t, s.URL, "/v2/health/ready") // an unloaded model does not make the server unready
	is.Equal(st, http.StatusOK)

	status, _, _ = post(t, s.URL, "/v2/repository/models/mnist/load", []byte(`{}`))
	is.Equal(status, http.StatusOK)
	status, resp, _ = post(t, s.URL, "/v2/models/mnist/infer", imageRequest(png))
	is.Equal(status, http.StatusOK)
	is.Equal(label(t, resp), int64(8))

	// Load of a loaded model reloads it and keeps serving.
	status, _, _ = post(t, s.URL, "/v2/repository/models/mnist/load", nil)
	is.Equal(status, http.StatusOK)
	status, _, _ = post(t, s.URL, "/v2/models/mnist/infer", imageRequest(png))
	is.Equal(status, http.StatusOK)

	status, resp, _ = post(t, s.URL, "/v2/repository/models/nosuch/load", nil)
	is.Equal(status, http.StatusNotFound)
	is.True(resp.Error != "")
	status, _, _ = post(t, s.URL, "/v2/repository/models/mnist/load", []byte(`{"parameters":{"config":"{}"}}`))
	is.Equal(status, http.StatusNotImplemented)
}
