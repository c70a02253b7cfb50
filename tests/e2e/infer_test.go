package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/matryer/is"
)

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestClassifySampleDigit(t *testing.T) {
	for _, file := range []string{"8_28x28.png", "8_28x28.jpg"} {
		t.Run(file, func(t *testing.T) {
			is := is.New(t)
			status, resp, _ := post(t, srv.URL, "/v2/models/mnist/infer", imageRequest(readFile(t, "../../testdata/mnist/"+file)))
			is.Equal(status, http.StatusOK)
			is.Equal(resp.ModelName, "mnist")
			is.Equal(resp.ModelVersion, "1")
			is.Equal(label(t, resp), int64(8))
			is.Equal(len(resp.Outputs), 2)
			var probs []float64
			is.Equal(resp.Outputs[1].Name, "probabilities")
			is.Equal(resp.Outputs[1].Shape, []int{1, 10})
			is.NoErr(json.Unmarshal(resp.Outputs[1].Data, &probs))
			sum := 0.0
			for _, p := range probs {
				sum += p
			}
			is.True(math.Abs(sum-1) <= 1e-7+1e-3) // the allclose rule, against 1
			is.True(probs[8] > 0.5)
		})
	}
}

func TestVersionedPathAndRequestID(t *testing.T) {
	is := is.New(t)
	body := strings.Replace(string(imageRequest(readFile(t, "../../testdata/mnist/8_28x28.png"))), `{"inputs"`, `{"id":"req-42","outputs":[{"name":"label"}],"inputs"`, 1)
	status, resp, _ := post(t, srv.URL, "/v2/models/mnist/versions/1/infer", []byte(body))
	is.Equal(status, http.StatusOK)
	is.Equal(resp.ID, "req-42")
	is.Equal(len(resp.Outputs), 1) // only the requested output
	is.Equal(label(t, resp), int64(8))
}

func TestPixelsInput(t *testing.T) {
	is := is.New(t)
	// The first test image of the MNIST test set, as raw pixel values.
	images, labels := loadMNIST(t)
	var sb strings.Builder
	sb.WriteString(`{"inputs":[{"name":"pixels","datatype":"FP32","shape":[1,1,28,28],"data":[`)
	for i, p := range images[0] {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprint(&sb, p)
	}
	sb.WriteString(`]}]}`)
	status, resp, _ := post(t, srv.URL, "/v2/models/mnist/infer", []byte(sb.String()))
	is.Equal(status, http.StatusOK)
	is.Equal(label(t, resp), int64(labels[0]))
}

// Every kind of bad request gets a clear error with the right status, and
// the server keeps serving.
func TestBadRequests(t *testing.T) {
	png := readFile(t, "../../testdata/mnist/8_28x28.png")
	cases := []struct {
		name, path, body string
		status           int
		msg              string
	}{
		{"garbage image bytes", "/v2/models/mnist/infer", string(imageRequest([]byte("this is not an image at all"))), 400, "image"},
		{"unknown model", "/v2/models/nosuchmodel/infer", string(imageRequest(png)), 404, "nosuchmodel"},
		{"unknown version", "/v2/models/mnist/versions/7/infer", string(imageRequest(png)), 404, "version"},
		{"malformed JSON", "/v2/models/mnist/infer", `{"inputs": [`, 400, ""},
		{"no inputs", "/v2/models/mnist/infer", `{"inputs": []}`, 400, "inputs"},
		{"unknown input", "/v2/models/mnist/infer", `{"inputs":[{"name":"foo","datatype":"FP32","shape":[1],"data":[1]}]}`, 400, "foo"},
		{"wrong dtype", "/v2/models/mnist/infer", `{"inputs":[{"name":"pixels","datatype":"INT32","shape":[1,1,28,28],"data":[` + zeros(784) + `]}]}`, 400, "datatype"},
		{"wrong shape", "/v2/models/mnist/infer", `{"inputs":[{"name":"pixels","datatype":"FP32","shape":[1,784],"data":[` + zeros(784) + `]}]}`, 400, "shape"},
		{"count mismatch", "/v2/models/mnist/infer", `{"inputs":[{"name":"pixels","datatype":"FP32","shape":[1,1,28,28],"data":[1,2,3]}]}`, 400, "784"},
		{"pixel out of range", "/v2/models/mnist/infer", `{"inputs":[{"name":"pixels","datatype":"FP32","shape":[1,1,28,28],"data":[` + zeros(783) + `,300]}]}`, 400, "783"},
		{"both inputs", "/v2/models/mnist/infer", `{"inputs":[{"name":"pixels","datatype":"FP32","shape":[1,1,28,28],"data":[` + zeros(784) + `]},` + strings.TrimSuffix(strings.TrimPrefix(string(imageRequest(png)), `{"inputs":[`), `]}`) + `]}`, 400, ""},
		{"bad base64", "/v2/models/mnist/infer", `{"inputs":[{"name":"image","datatype":"BYTES","shape":[1],"parameters":{"content_type":"base64"},"data":["***"]}]}`, 400, "base64"},
		{"unknown output", "/v2/models/mnist/infer", `{"outputs":[{"name":"logits"}],"inputs":[{"name":"pixels","datatype":"FP32","shape":[1,1,28,28],"data":[` + zeros(784) + `]}]}`, 400, "logits"},
		{"no such endpoint", "/v2/nothing", `{}`, 404, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			status, resp, _ := post(t, srv.URL, c.path, []byte(c.body))
			is.Equal(status, c.status)
			is.True(resp.Error != "") // every error has a message
			if c.msg != "" && !strings.Contains(resp.Error, c.msg) {
				t.Errorf("error %q does not mention %q", resp.Error, c.msg)
			}
		})
	}
	// Still serving after all of that.
	status, resp, _ := post(t, srv.URL, "/v2/models/mnist/infer", imageRequest(png))
	if status != http.StatusOK || label(t, resp) != 8 {
		t.Fatalf("server stopped serving after bad requests: %d %+v", status, resp)
	}
}

func zeros(n int) string {
	return strings.TrimSuffix(strings.Repeat("0,", n), ",")
}
