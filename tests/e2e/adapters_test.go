package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/matryer/is"
)

// The MNIST pipeline with modules written in C swapped in, and Wasm-only
// models whose adapter (in Go or in C) runs the built-in model through
// model_run: each classifies the sample digit, and gives the built-in
// model's label for each of a thousand MNIST test images, over HTTP.
func TestSwappedInModules(t *testing.T) {
	s := tenantServer(t, "")
	defer s.Stop()
	upload := func(name, file string) {
		status, body := call(t, "PUT", s.URL+"/v2/repository/modules/"+name, keyAcme, readFile(t, "../../guest/"+file))
		if status != http.StatusCreated {
			t.Fatalf("upload %s: %d %s", name, status, body)
		}
	}
	upload("cpost", "c/wasm/mnistpost.wasm")
	upload("cadapter", "c/wasm/mnistadapter.wasm")
	upload("goadapter", "wasm/mnistadapter.wasm")
	onnx := base64.StdEncoding.EncodeToString(onnxModel(t))
	models := map[string]string{
		"c-post":     fmt.Sprintf(`{"pre":{"module":"mnistpre"},"core":{"onnx":%q},"post":{"module":"cpost"}}`, onnx),
		"c-adapter":  `{"core":{"module":"cadapter"},"calls":["mnist"]}`,
		"go-adapter": `{"core":{"module":"goadapter"},"calls":["mnist"]}`,
	}
	images, _ := loadMNIST(t)
	pngs := make([][]byte, 1000)
	for i := range pngs {
		var err error
		if pngs[i], err = encodeImage(images[i], "png"); err != nil {
			t.Fatal(err)
		}
	}
	predict := func(t *testing.T, model string) []int64 {
		out := make([]int64, len(pngs))
		for i, img := range pngs {
			status, body := call(t, "POST", s.URL+"/v2/models/"+model+"/infer", keyAcme, imageRequest(img))
			if status != http.StatusOK {
				t.Fatalf("%s, image %d: %d %s", model, i, status, body)
			}
			var r v2Response
			if err := json.Unmarshal(body, &r); err != nil {
				t.Fatal(err)
			}
			out[i] = label(t, r)
		}
		return out
	}
	want := predict(t, "mnist")
	for name, manifest := range models {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			status, body := call(t, "PUT", s.URL+"/v2/repository/models/"+name, keyAcme, []byte(manifest))
			is.Equal(status, http.StatusCreated)
			is.True(strings.Contains(string(body), `"name":"label"`)) // same interface as mnist

			png := readFile(t, "../../testdata/mnist/8_28x28.png")
			status, body = call(t, "POST", s.URL+"/v2/models/"+name+"/infer", keyAcme, imageRequest(png))
			is.Equal(status, http.StatusOK)
			var r v2Response
			is.NoErr(json.Unmarshal(body, &r))
			is.Equal(label(t, r), int64(8))

			is.Equal(predict(t, name), want) // the same label as the built-in model for every image
		})
	}

	// An adapter may only run what its manifest lists.
	is := is.New(t)
	status, body := call(t, "PUT", s.URL+"/v2/repository/models/rogue", keyAcme, []byte(`{"core":{"module":"goadapter"}}`))
	is.Equal(status, http.StatusCreated)
	status, body = call(t, "POST", s.URL+"/v2/models/rogue/infer", keyAcme, imageRequest(readFile(t, "../../testdata/mnist/8_28x28.png")))
	is.Equal(status, http.StatusInternalServerError) // the model is broken, not the request
	is.True(strings.Contains(errorOf(body), `may not run mnist: list it under "calls"`))
}

// A wasi-nn guest written in C from the witx signatures classifies MNIST
// through wasi_ephemeral_nn's load_by_name of the built-in model, and checks
// the errno of every error path it can provoke.
func TestWasiNNGuest(t *testing.T) {
	is := is.New(t)
	s := tenantServer(t, "")
	defer s.Stop()
	status, body := call(t, "PUT", s.URL+"/v2/repository/modules/nn", keyAcme, readFile(t, "../../guest/c/wasm/wasinn_mnist.wasm"))
	is.Equal(status, http.StatusCreated)
	// The built-in mnist takes image or pixels (index 1) and returns label
	// and probabilities (index 1).
	for _, cfg := range []string{`{"model":"mnist","input_index":1,"output_index":1}`,
		`{"model":"mnist","input_index":1,"output_index":1,"check_errors":true}`} {
		status, body = call(t, "PUT", s.URL+"/v2/repository/models/nnmnist", keyAcme,
			[]byte(`{"core":{"module":"nn","config":`+cfg+`},"calls":["mnist"]}`))
		is.Equal(status, http.StatusCreated)
		images, labels := loadMNIST(t)
		for i := range 20 {
			var sb strings.Builder
			sb.WriteString(`{"inputs":[{"name":"pixels","datatype":"FP32","shape":[1,1,28,28],"data":[`)
			for j, p := range images[i] {
				if j > 0 {
					sb.WriteByte(',')
				}
				fmt.Fprint(&sb, p)
			}
			sb.WriteString(`]}]}`)
			status, body = call(t, "POST", s.URL+"/v2/models/nnmnist/infer", keyAcme, []byte(sb.String()))
			if status != http.StatusOK {
				t.Fatalf("config %s, image %d: %d %s", cfg, i, status, body)
			}
			var r v2Response
			is.NoErr(json.Unmarshal(body, &r))
			is.Equal(label(t, r), int64(labels[i]))
		}
	}
}
