package gateway

import (
	"testing"

	"github.com/wasmgate/wasmgate/hostfuncs/fault"
)

// A manifest is a tenant's bytes: whatever they are, decoding answers a
// manifest or an Invalid fault, and never panics.
func FuzzDecodeManifest(f *testing.F) {
	for _, seed := range []string{
		`{"core":{"module":"adapter"}}`,
		`{"pre":{"module":"bertpre","config":{"max_length":64}},"core":{"onnx":"AAEC"},"post":{"module":"meanpool"}}`,
		`{"core":{"onnx":"AAEC"},"limits":{"timeout":"2s","memory":"64MiB","pool_size":2},"calls":["mnist"]}`,
		`{"core":{"module":"a","config":[]}}`,
		`{"core":{}} trailing`,
		`{"core":{"module":"a"},"unknown":1}`,
		``, `null`, `[]`, `{"core":{"onnx":"not base64!"}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeManifest(b)
		if err != nil {
			if k := fault.KindOf(err); k != fault.Invalid {
				t.Fatalf("error of kind %v, want Invalid: %v", k, err)
			}
			return
		}
		if (len(m.Core.ONNX) > 0) == (m.Core.Module != "") {
			t.Fatalf("accepted a core with onnx=%d bytes and module=%q", len(m.Core.ONNX), m.Core.Module)
		}
	})
}
