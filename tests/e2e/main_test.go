package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/tests/harness"
)

// bin is the wasmgate binary built for this test run; srv is a server
// shared by the tests that do not change its state.
var (
	bin string
	srv *harness.Server
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "wasmgate-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin, err = harness.Build(ctx, dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv, err = harness.Start(ctx, bin, []string{"WASMGATE_CACHE_DIR=" + filepath.Join(dir, "cache")}, 2*time.Minute)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if err := srv.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "wasmgate did not stop cleanly: %v\n%s", err, srv.Logs())
		if code == 0 {
			code = 1
		}
	}
	return code
}

// client has enough idle connections for the concurrent tests.
var client = &http.Client{
	Timeout:   time.Minute,
	Transport: &http.Transport{MaxIdleConnsPerHost: 16},
}

type v2Output struct {
	Name       string          `json:"name"`
	DataType   string          `json:"datatype"`
	Shape      []int           `json:"shape"`
	Data       json.RawMessage `json:"data"`
	Parameters map[string]any  `json:"parameters"`
}

type v2Response struct {
	ModelName    string     `json:"model_name"`
	ModelVersion string     `json:"model_version"`
	ID           string     `json:"id"`
	Outputs      []v2Output `json:"outputs"`
	Error        string     `json:"error"`
}

// post sends body to path and decodes the JSON answer.
func post(t testing.TB, base, path string, body []byte) (int, v2Response, http.Header) {
	t.Helper()
	status, out, h, err := tryPost(base, path, body)
	if err != nil {
		t.Fatal(err)
	}
	return status, out, h
}

// tryPost is post for goroutines other than the test's, which must not
// call t.Fatal.
func tryPost(base, path string, body []byte) (int, v2Response, http.Header, error) {
	var out v2Response
	resp, err := client.Post(base+path, "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, out, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, out, nil, err
	}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			return 0, out, nil, fmt.Errorf("%s: status %d, body is not JSON: %q", path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, out, resp.Header, nil
}

func get(t testing.TB, base, path string) (int, []byte) {
	t.Helper()
	resp, err := client.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, raw
}

// imageRequest is an infer request carrying one encoded image as base64.
func imageRequest(img []byte) []byte {
	return fmt.Appendf(nil, `{"inputs":[{"name":"image","datatype":"BYTES","shape":[1],"parameters":{"content_type":"base64"},"data":["%s"]}]}`,
		base64.StdEncoding.EncodeToString(img))
}

// label extracts the predicted digit from a response.
func label(t testing.TB, r v2Response) int64 {
	t.Helper()
	v, err := labelOf(r)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func labelOf(r v2Response) (int64, error) {
	for _, o := range r.Outputs {
		if o.Name == "label" {
			var v []int64
			if err := json.Unmarshal(o.Data, &v); err != nil || len(v) != 1 {
				return -1, fmt.Errorf("label output %s: %v", o.Data, err)
			}
			return v[0], nil
		}
	}
	return -1, fmt.Errorf("no label output in %+v", r)
}
