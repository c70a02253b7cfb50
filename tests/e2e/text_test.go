package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/guest/tokenize/bertvocab"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/enginetest"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/exec"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/modelgen"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/onnx"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// The text pipeline: the built-in WordPiece tokenizer (bertpre), a
// BERT-style encoder (4 layers, hidden 256, 4 heads, FFN 1024, BERT's
// vocabulary; random weights, any sequence length), and mean pooling with
// L2 normalisation (meanpool), saved as a model and run over HTTP. The
// embedding must equal what the same steps give when run directly.
func TestTextEmbeddingPipeline(t *testing.T) {
	is := is.New(t)
	cfg := modelgen.BERTConfig{Layers: 4, Hidden: 256, Heads: 4, FFN: 1024, Seq: 16, Vocab: 30522, MaxPositions: 512,
		AttentionMask: true, TokenTypes: true, DynamicSeq: true, Seed: 11}
	m, err := modelgen.BERTEncoder(cfg)
	is.NoErr(err)
	graphBytes, err := onnx.WriteModel(m)
	is.NoErr(err)

	s := tenantServer(t, "")
	defer s.Stop()
	status, body := call(t, "PUT", s.URL+"/v2/repository/models/embed", keyAcme, fmt.Appendf(nil,
		`{"pre":{"module":"bertpre"},"core":{"onnx":%q},"post":{"module":"meanpool"}}`, base64.StdEncoding.EncodeToString(graphBytes)))
	if status != http.StatusCreated {
		t.Fatalf("saving the text model: %d %s", status, errorOf(body))
	}

	tok, err := bertvocab.NewUncased()
	is.NoErr(err)
	plan, err := exec.Compile(m)
	is.NoErr(err)
	for _, text := range []string{"Hello, world!", "wasmgate runs your code in the request path, sandboxed.", "Ünïcödé façade — naïve café"} {
		t.Run(text, func(t *testing.T) {
			is := is.New(t)
			status, body := call(t, "POST", s.URL+"/v2/models/embed/infer", keyAcme, fmt.Appendf(nil,
				`{"inputs":[{"name":"text","datatype":"BYTES","shape":[1],"data":[%q]}]}`, text))
			if status != http.StatusOK {
				t.Fatalf("infer: %d %s", status, errorOf(body))
			}
			var r v2Response
			is.NoErr(json.Unmarshal(body, &r))
			is.Equal(r.Outputs[0].Name, "embedding")
			is.Equal(r.Outputs[0].Shape, []int{1, 256})
			var got []float32
			is.NoErr(json.Unmarshal(r.Outputs[0].Data, &got))

			// The same steps, run directly.
			ids32 := tok.Encode(text, 128)
			n := len(ids32)
			ids, ones := make([]int64, n), make([]int64, n)
			for i, id := range ids32 {
				ids[i], ones[i] = int64(id), 1
			}
			out, err := plan.Run(context.Background(), []tensor.Named{
				{Name: "input_ids", Tensor: tensor.MustFrom(tensor.Shape{1, n}, ids)},
				{Name: "attention_mask", Tensor: tensor.MustFrom(tensor.Shape{1, n}, ones)},
				{Name: "token_type_ids", Tensor: tensor.MustNew(tensor.Int64, tensor.Shape{1, n})},
			})
			is.NoErr(err)
			hidden := tensor.Values[float32](out[0].Tensor)
			want := make([]float32, 256)
			var norm float64
			for h := range 256 {
				var sum float64
				for tkn := range n {
					sum += float64(hidden[tkn*256+h])
				}
				want[h] = float32(sum / float64(n))
				norm += float64(want[h]) * float64(want[h])
			}
			for h := range want {
				want[h] = float32(float64(want[h]) / max(math.Sqrt(norm), 1e-12))
			}
			is.NoErr(enginetest.AllClose(tensor.MustFrom(tensor.Shape{1, 256}, got), tensor.MustFrom(tensor.Shape{1, 256}, want)))
		})
	}
}
