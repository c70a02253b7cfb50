package v2json

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// mnistBody is an MNIST-sized request: 784 floats with 4 decimals each.
func mnistBody() []byte {
	rng := rand.New(rand.NewPCG(7, 7))
	var b strings.Builder
	b.WriteString(`{"id":"42","inputs":[{"name":"Input3","shape":[1,1,28,28],"datatype":"FP32","data":[`)
	for i := range 784 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%.4f", rng.Float64())
	}
	b.WriteString(`]}]}`)
	return []byte(b.String())
}

func pngBody() []byte {
	rng := rand.New(rand.NewPCG(8, 8))
	img := make([]byte, 768)
	for i := range img {
		img[i] = byte(rng.Uint32())
	}
	return []byte(`{"inputs":[{"name":"image","shape":[1],"datatype":"BYTES","parameters":{"content_type":"base64"},"data":["` +
		base64.StdEncoding.EncodeToString(img) + `"]}]}`)
}

func BenchmarkDecodeFP32x784(b *testing.B) {
	body := mnistBody()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeInferRequest(body, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// stdRequest is what the decode costs with plain encoding/json, for comparison.
type stdRequest struct {
	ID         string         `json:"id"`
	Parameters map[string]any `json:"parameters"`
	Inputs     []struct {
		Name       string         `json:"name"`
		Shape      []int          `json:"shape"`
		Datatype   string         `json:"datatype"`
		Parameters map[string]any `json:"parameters"`
		Data       []float32      `json:"data"`
	} `json:"inputs"`
}

func BenchmarkDecodeFP32x784EncodingJSON(b *testing.B) {
	body := mnistBody()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var r stdRequest
		if err := json.Unmarshal(body, &r); err != nil || len(r.Inputs[0].Data) != 784 {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeBase64PNG(b *testing.B) {
	body := pngBody()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeInferRequest(body, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeBase64PNGEncodingJSON(b *testing.B) {
	body := pngBody()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var r struct {
			Inputs []struct {
				Name       string            `json:"name"`
				Shape      []int             `json:"shape"`
				Datatype   string            `json:"datatype"`
				Parameters map[string]string `json:"parameters"`
				Data       []string          `json:"data"`
			} `json:"inputs"`
		}
		if err := json.Unmarshal(body, &r); err != nil {
			b.Fatal(err)
		}
		if _, err := base64.StdEncoding.DecodeString(r.Inputs[0].Data[0]); err != nil {
			b.Fatal(err)
		}
	}
}

func mnistResponse() *InferResponse {
	return &InferResponse{
		ModelName: "mnist", ID: "42",
		Outputs: []tensor.Named{
			{Name: "label", Tensor: tensor.MustFrom(tensor.Shape{1}, []int64{7})},
			{Name: "probs", Tensor: tensor.MustFrom(tensor.Shape{1, 10}, []float32{
				0.0012, 0.00034, 0.0021, 0.013, 0.00001, 0.0005, 0.000002, 0.97, 0.0003, 0.0116})},
		},
	}
}

func BenchmarkEncodeResponse(b *testing.B) {
	r := mnistResponse()
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendInferResponse(buf[:0], r); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkEncodeResponseEncodingJSON(b *testing.B) {
	type out struct {
		Name     string `json:"name"`
		Datatype string `json:"datatype"`
		Shape    []int  `json:"shape"`
		Data     any    `json:"data"`
	}
	type resp struct {
		ModelName string `json:"model_name"`
		ID        string `json:"id,omitempty"`
		Outputs   []out  `json:"outputs"`
	}
	r := mnistResponse()
	b.ReportAllocs()
	for b.Loop() {
		v := resp{ModelName: r.ModelName, ID: r.ID, Outputs: []out{
			{"label", "INT64", r.Outputs[0].Shape, tensor.Values[int64](r.Outputs[0].Tensor)},
			{"probs", "FP32", r.Outputs[1].Shape, tensor.Values[float32](r.Outputs[1].Tensor)},
		}}
		if _, err := json.Marshal(v); err != nil {
			b.Fatal(err)
		}
	}
}
