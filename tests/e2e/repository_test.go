package e2e

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/matryer/is"
)

type indexEntry struct {
	Name, Version, State, Reason string
}

func index(t *testing.T, base string, body string) []indexEntry {
	t.Helper()
	status, b := call(t, "POST", base+"/v2/repository/index", keyAdmin, []byte(body))
	if status != http.StatusOK {
		t.Fatalf("index: status %d: %s", status, b)
	}
	var out []indexEntry
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// Triton's repository extension: unload makes infer answer 503, loading
// again serves again. Runs on its own server so it cannot disturb others.
func TestRepositoryUnloadLoad(t *testing.T) {
	is := is.New(t)
	s := tenantServer(t, "")
	defer func() { is.NoErr(s.Stop()) }()
	png := readFile(t, "../../testdata/mnist/8_28x28.png")
	post := func(t testing.TB, base, path string, body []byte) (int, v2Response, http.Header) {
		status, b := call(t, "POST", base+path, keyAdmin, body)
		var r v2Response
		if len(b) > 0 {
			is.NoErr(json.Unmarshal(b, &r))
		}
		return status, r, nil
	}
	get := func(t testing.TB, base, path string) (int, []byte) { return call(t, "GET", base+path, keyAdmin, nil) }

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
