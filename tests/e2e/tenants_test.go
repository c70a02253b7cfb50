package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/tests/harness"
	"github.com/wasmgate/wasmgate/tests/wasmgen"
)

// Keys of the tenants these tests use (docs/AUTH.md format).
const (
	keyAcme   = "acme0000000000000000000000000000000000000000000000"
	keyGlobex = "globex000000000000000000000000000000000000000000000"
	keyReader = "reader00000000000000000000000000000000000000000000"
	keyAdmin  = "admin000000000000000000000000000000000000000000000"
	apiKeys   = keyAcme + " acme infer,upload;" + keyGlobex + " globex infer,upload;" + keyReader + " acme infer;" + keyAdmin + " ops admin,infer"
)

// tenantServer starts a server with API keys and a data directory of its
// own (or the one given, to restart on it).
func tenantServer(t *testing.T, dataDir string) *harness.Server {
	t.Helper()
	if dataDir == "" {
		dataDir = filepath.Join(t.TempDir(), "data")
	}
	s, err := harness.Start(context.Background(), bin, []string{
		"WASMGATE_CACHE_DIR=" + filepath.Join(filepath.Dir(dataDir), "cache"),
		"WASMGATE_DATA_DIR=" + dataDir,
		"WASMGATE_API_KEYS=" + apiKeys,
	}, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// call sends a request with an API key and returns status and body.
func call(t testing.TB, method, url, key string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func errorOf(b []byte) string {
	var e struct{ Error string }
	_ = json.Unmarshal(b, &e)
	return e.Error
}

func builtinWasm(t *testing.T, name string) []byte {
	return readFile(t, "../../guest/wasm/"+name+".wasm")
}

func TestAuthentication(t *testing.T) {
	s := tenantServer(t, "")
	defer s.Stop()
	png := readFile(t, "../../testdata/mnist/8_28x28.png")
	cases := []struct {
		name, method, path, key string
		body                    []byte
		status                  int
	}{
		{"infer without a key", "POST", "/v2/models/mnist/infer", "", imageRequest(png), 401},
		{"infer with a wrong key", "POST", "/v2/models/mnist/infer", keyAcme + "x", imageRequest(png), 403},
		{"infer with a key", "POST", "/v2/models/mnist/infer", keyReader, imageRequest(png), 200},
		{"upload with an infer-only key", "PUT", "/v2/repository/modules/m", keyReader, []byte("x"), 403},
		{"admin route with an upload key", "POST", "/v2/repository/index", keyAcme, nil, 403},
		{"admin route with the admin key", "POST", "/v2/repository/index", keyAdmin, nil, 200},
		{"health needs no key", "GET", "/v2/health/ready", "", nil, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			status, body := call(t, c.method, s.URL+c.path, c.key, c.body)
			is.Equal(status, c.status)
			if status >= 400 {
				is.True(errorOf(body) != "")
				is.True(!strings.Contains(string(body), keyAcme))
			}
		})
	}
}

// Without API keys the upload and admin routes are disabled, not open.
func TestUploadsDisabledWithoutKeys(t *testing.T) {
	is := is.New(t)
	status, body := call(t, "PUT", srv.URL+"/v2/repository/modules/m", "", builtinWasm(t, "mnistpost"))
	is.Equal(status, http.StatusForbidden)
	is.True(strings.Contains(errorOf(body), "no API keys are configured"))
	status, _ = call(t, "POST", srv.URL+"/v2/repository/models/mnist/unload", "", nil)
	is.Equal(status, http.StatusForbidden)
}

func onnxModel(t *testing.T) []byte { return readFile(t, "../../testdata/mnist/mnist-7/model.onnx") }

// A tenant uploads its own pre and post modules and the ONNX graph, saves a
// manifest, and classifies through it; the model survives a restart.
func TestUploadedModelWithCustomStages(t *testing.T) {
	is := is.New(t)
	data := filepath.Join(t.TempDir(), "data")
	s := tenantServer(t, data)
	for _, m := range []struct{ name, file string }{{"mypre", "mnistpre"}, {"mypost", "mnistpost"}} {
		status, body := call(t, "PUT", s.URL+"/v2/repository/modules/"+m.name, keyAcme, builtinWasm(t, m.file))
		is.Equal(status, http.StatusCreated)
		var info struct {
			Digest string `json:"sha256"`
		}
		is.NoErr(json.Unmarshal(body, &info))
		is.Equal(len(info.Digest), 64)
	}
	manifest := fmt.Sprintf(`{"pre":{"module":"mypre"},"core":{"onnx":%q},"post":{"module":"mypost"},"limits":{"pool_size":1,"timeout":"5s","memory":"48MiB","host_memory":"32MiB","max_output":"1MiB","init_timeout":"5s"}}`,
		base64.StdEncoding.EncodeToString(onnxModel(t)))
	status, body := call(t, "PUT", s.URL+"/v2/repository/models/digits", keyAcme, []byte(manifest))
	is.Equal(status, http.StatusCreated)
	is.True(strings.Contains(string(body), `"version":"1"`))

	png := readFile(t, "../../testdata/mnist/8_28x28.png")
	classify := func(s *harness.Server, key string) (int, string) {
		status, body := call(t, "POST", s.URL+"/v2/models/digits/infer", key, imageRequest(png))
		if status != http.StatusOK {
			return status, errorOf(body)
		}
		var r v2Response
		is.NoErr(json.Unmarshal(body, &r))
		return status, fmt.Sprint(label(t, r))
	}
	st, got := classify(s, keyAcme)
	is.Equal(st, http.StatusOK)
	is.Equal(got, "8")
	st, _ = classify(s, keyGlobex) // another tenant does not see it
	is.Equal(st, http.StatusNotFound)

	// Listing and metadata.
	status, body = call(t, "GET", s.URL+"/v2/repository/modules", keyAcme, nil)
	is.Equal(status, http.StatusOK)
	is.True(strings.Contains(string(body), `"name":"mypre"`))
	status, body = call(t, "GET", s.URL+"/v2/repository/modules", keyGlobex, nil)
	is.True(!strings.Contains(string(body), `"mypre"`))
	status, body = call(t, "GET", s.URL+"/v2/models/digits", keyAcme, nil)
	is.Equal(status, http.StatusOK)
	is.True(strings.Contains(string(body), `"name":"image"`))

	// After a restart the model is back, from disk.
	is.NoErr(s.Stop())
	s2 := tenantServer(t, data)
	defer s2.Stop()
	st, got = classify(s2, keyAcme)
	is.Equal(st, http.StatusOK)
	is.Equal(got, "8")
}

// Replacing a module changes no saved model until the manifest is saved
// again, which makes a new version.
func TestModuleReplacementNeedsNewVersion(t *testing.T) {
	is := is.New(t)
	s := tenantServer(t, "")
	defer s.Stop()
	put := func(path string, body []byte) (int, []byte) { return call(t, "PUT", s.URL+path, keyAcme, body) }
	status, _ := put("/v2/repository/modules/post", builtinWasm(t, "mnistpost"))
	is.Equal(status, http.StatusCreated)
	manifest := fmt.Sprintf(`{"core":{"onnx":%q},"post":{"module":"post"}}`, base64.StdEncoding.EncodeToString(onnxModel(t)))
	status, _ = put("/v2/repository/models/m", []byte(manifest))
	is.Equal(status, http.StatusCreated)

	// "post" becomes the counter; the saved model still runs mnistpost.
	status, _ = put("/v2/repository/modules/post", wasmgen.Counter().Bytes())
	is.Equal(status, http.StatusOK)
	pixels := `{"inputs":[{"name":"Input3","datatype":"FP32","shape":[1,1,28,28],"data":[` + zeros(784) + `]}]}`
	status, body := call(t, "POST", s.URL+"/v2/models/m/infer", keyAcme, []byte(pixels))
	is.Equal(status, http.StatusOK)
	is.True(strings.Contains(string(body), `"probabilities"`))

	// Saving again resolves "post" anew: version 2 has the counter, whose
	// input does not fit the graph's output.
	status, body = put("/v2/repository/models/m", []byte(manifest))
	is.Equal(status, http.StatusBadRequest)
	is.True(strings.Contains(errorOf(body), "stage post input x has shape [-1]"))
	status, body = call(t, "GET", s.URL+"/v2/repository/models/m", keyAcme, nil)
	is.Equal(status, http.StatusOK)
	is.True(strings.Contains(string(body), `"version":1,`)) // the refused save made no version
}

// Modules that break the rules are refused with a message naming the rule.
func TestModuleValidation(t *testing.T) {
	s := tenantServer(t, "")
	defer s.Stop()
	var socket wasmgen.Module
	socket.ImportFunc("wasi_snapshot_preview1", "sock_accept", []wasmgen.ValType{wasmgen.I32, wasmgen.I32, wasmgen.I32}, []wasmgen.ValType{wasmgen.I32})
	socket.Memory(1, 0)
	var open wasmgen.Module
	open.ImportFunc("wasi_snapshot_preview1", "path_open", []wasmgen.ValType{wasmgen.I32, wasmgen.I32, wasmgen.I32, wasmgen.I32, wasmgen.I32, wasmgen.I64, wasmgen.I64, wasmgen.I32, wasmgen.I32}, []wasmgen.ValType{wasmgen.I32})
	open.Memory(1, 0)
	cases := []struct {
		name   string
		wasm   []byte
		status int
		msg    string
	}{
		{"garbage", []byte("definitely not wasm"), 400, "not a valid WebAssembly module"},
		{"socket import", socket.Bytes(), 400, "sock_accept"},
		{"filesystem import", open.Bytes(), 400, "path_open"},
		{"no ABI exports", func() []byte { var m wasmgen.Module; m.Memory(1, 0); return m.Bytes() }(), 400, "wasmgate_abi_version"},
		{"wrong ABI version", wasmgen.Guest{Version: 9}.Bytes(), 400, "ABI v9"},
		{"too large", make([]byte, 33<<20), 413, "limit"},
		{"bad name", wasmgen.Guest{}.Bytes(), 400, "not a valid module name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			name := "m"
			if c.name == "bad name" {
				name = ".hidden"
			}
			status, body := call(t, "PUT", s.URL+"/v2/repository/modules/"+name, keyAcme, c.wasm)
			is.Equal(status, c.status)
			if !strings.Contains(errorOf(body), c.msg) {
				t.Errorf("error %q does not mention %q", errorOf(body), c.msg)
			}
		})
	}
	status, body := call(t, "GET", s.URL+"/v2/repository/modules/m", keyAcme, nil)
	is.New(t).Equal(status, http.StatusNotFound) // nothing invalid was stored
	_ = body
}

// Two tenants each run a guest that counts its calls in a global: each sees
// only its own count, because instances are never shared between tenants.
func TestTenantsNeverShareInstances(t *testing.T) {
	is := is.New(t)
	s := tenantServer(t, "")
	defer s.Stop()
	for _, key := range []string{keyAcme, keyGlobex} {
		status, _ := call(t, "PUT", s.URL+"/v2/repository/modules/counter", key, wasmgen.Counter().Bytes())
		is.Equal(status, http.StatusCreated)
		status, body := call(t, "PUT", s.URL+"/v2/repository/models/counter", key, []byte(`{"core":{"module":"counter"},"limits":{"pool_size":1}}`))
		is.Equal(status, http.StatusCreated)
		_ = body
	}
	count := func(key string) int {
		status, body := call(t, "POST", s.URL+"/v2/models/counter/infer", key, []byte(`{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[1]}]}`))
		is.Equal(status, http.StatusOK)
		var r v2Response
		is.NoErr(json.Unmarshal(body, &r))
		var n []int
		is.NoErr(json.Unmarshal(r.Outputs[0].Data, &n))
		return n[0]
	}
	is.Equal(count(keyAcme), 1)
	is.Equal(count(keyAcme), 2)
	is.Equal(count(keyAcme), 3)
	is.Equal(count(keyGlobex), 1)
	is.Equal(count(keyAcme), 4)
	is.Equal(count(keyGlobex), 2)
}

// Calls between models must not form cycles, and must name models that exist.
func TestManifestCalls(t *testing.T) {
	is := is.New(t)
	s := tenantServer(t, "")
	defer s.Stop()
	put := func(path string, body string) (int, string) {
		status, b := call(t, "PUT", s.URL+path, keyAcme, []byte(body))
		return status, errorOf(b)
	}
	status, _ := put("/v2/repository/modules/counter", string(wasmgen.Counter().Bytes()))
	is.Equal(status, http.StatusCreated)
	status, msg := put("/v2/repository/models/a", `{"core":{"module":"counter"},"calls":["nosuch"]}`)
	is.Equal(status, http.StatusBadRequest)
	is.True(strings.Contains(msg, "nosuch"))
	status, _ = put("/v2/repository/models/a", `{"core":{"module":"counter"}}`)
	is.Equal(status, http.StatusCreated)
	status, _ = put("/v2/repository/models/b", `{"core":{"module":"counter"},"calls":["a","mnist"]}`)
	is.Equal(status, http.StatusCreated)
	status, msg = put("/v2/repository/models/a", `{"core":{"module":"counter"},"calls":["b"]}`)
	is.Equal(status, http.StatusBadRequest)
	is.True(strings.Contains(msg, "cycle: a → b → a"))
	status, msg = put("/v2/repository/models/c", `{"core":{"module":"counter"},"calls":["c"]}`)
	is.Equal(status, http.StatusBadRequest)
	is.True(strings.Contains(msg, "cycle"))
	status, msg = put("/v2/repository/models/mnist", `{"core":{"module":"counter"}}`)
	is.Equal(status, http.StatusConflict)
	status, msg = put("/v2/repository/models/d", `{"core":{"module":"counter"},"bogus":1}`)
	is.Equal(status, http.StatusBadRequest)
	is.True(strings.Contains(msg, "bogus"))
	status, msg = put("/v2/repository/models/d", `{"core":{"module":"counter"},"limits":{"memory":"64GiB"}}`)
	is.Equal(status, http.StatusBadRequest)
	is.True(strings.Contains(msg, "memory"))
}

// A crash in the middle of an upload leaves nothing half-written: after a
// restart the module does not exist, and no partial file remains.
func TestKillDuringUpload(t *testing.T) {
	is := is.New(t)
	data := filepath.Join(t.TempDir(), "data")
	s := tenantServer(t, data)
	wasm := builtinWasm(t, "mnistpre")
	conn, err := net.Dial("tcp", s.Addr)
	is.NoErr(err)
	fmt.Fprintf(conn, "PUT /v2/repository/modules/half HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n", keyAcme, len(wasm))
	_, err = conn.Write(wasm[:len(wasm)/2])
	is.NoErr(err)
	time.Sleep(100 * time.Millisecond)
	s.Kill() // SIGKILL mid-body
	conn.Close()

	s2 := tenantServer(t, data)
	defer s2.Stop()
	status, _ := call(t, "GET", s2.URL+"/v2/repository/modules/half", keyAcme, nil)
	is.Equal(status, http.StatusNotFound)
	var leftovers []string
	is.NoErr(filepath.Walk(data, func(p string, fi os.FileInfo, err error) error {
		if err == nil && strings.HasPrefix(fi.Name(), ".tmp-") {
			leftovers = append(leftovers, p)
		}
		return err
	}))
	is.Equal(leftovers, []string(nil))
	// And the server works: the same upload, whole, succeeds.
	status, _ = call(t, "PUT", s2.URL+"/v2/repository/modules/half", keyAcme, wasm)
	is.Equal(status, http.StatusCreated)
}
