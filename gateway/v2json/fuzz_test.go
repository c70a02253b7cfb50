package v2json

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

var fuzzSeeds = []string{
	`{"inputs":[{"name":"x","datatype":"FP32","shape":[2,2],"data":[[1,2.5],[-3e-2,"NaN"]]}]}`,
	`{"id":"a","parameters":{"p":1,"q":"s","r":true,"f":1.5},"outputs":[{"name":"y"}],"inputs":[{"name":"x","datatype":"INT8","shape":[3],"data":[1,-2,3.0]}]}`,
	`{"inputs":[{"data":[true,false],"shape":[2],"name":"b","datatype":"BOOL"},{"name":"s","datatype":"BYTES","shape":[1],"data":["h\u00e9\ud83d\ude00"]}]}`,
	`{"inputs":[{"name":"s","datatype":"BYTES","shape":[2],"parameters":{"content_type":"base64"},"data":["aGk=","aGk"]}]}`,
	`{"inputs":[{"name":"h","datatype":"FP16","shape":[2],"data":[65504,1e-8]},{"name":"b","datatype":"BF16","shape":[],"data":[1.5]}]}`,
	`{"inputs":[{"name":"u","datatype":"UINT64","shape":[1],"data":[18446744073709551615]},{"name":"i","datatype":"INT64","shape":[1],"data":[-9223372036854775808]}]}`,
	`{"inputs":[{"name":"x","datatype":"UINT8","shape":[0,5],"data":[[]]}]}`,
	`{"inputs":[{"name":"x","datatype":"FP64","shape":[1],"data":[1e400]}]}`,
	`{"inputs":[{"name":"x","datatype":"UINT8","shape":[1],"data":[256]}]}`,
	`{"inputs":[{"name":"x","datatype":"INT32","shape":[1,-1],"data":[1]}]}`,
	`{"inputs":[{"name":"x","datatype":"INT32","shape":[1073741824],"data":[1]}]}`,
	`{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[[[[[[[[1]]]]]]]]}]} `,
	`{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[1]}]}garbage`,
	`{"inputs":[{"name":"x","name":"y"}]}`,
	`{"inputs":[],"u":{"a":[1,{"b":null}]}}`,
	``, `{`, `[`, `"`, `{"inputs":[{"name":"\ud800"`, "{\"id\":\"\xff\"}",
}

func FuzzDecodeInferRequest(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := DecodeInferRequest(body, Limits{})
		if err != nil {
			var fe *fault.Error
			if !errors.As(err, &fe) || (fe.Kind != fault.Invalid && fe.Kind != fault.TooLarge) || err.Error() == "" {
				t.Fatalf("error %v (%T) is not an Invalid or TooLarge fault", err, err)
			}
			return
		}
		// Accepting anything that is not JSON would be a parser bug.
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		if len(r.Inputs) == 0 {
			t.Fatal("accepted a request without inputs")
		}
		names := map[string]bool{}
		for _, in := range r.Inputs {
			if in.Name == "" || names[in.Name] {
				t.Fatalf("bad or duplicate input name %q", in.Name)
			}
			names[in.Name] = true
			if err := in.Validate(); err != nil {
				t.Fatalf("input %q: %v", in.Name, err)
			}
		}
		// What was decoded must survive an encode→decode round trip.
		ts := make([]tensor.Named, len(r.Inputs))
		for i, in := range r.Inputs {
			ts[i] = in.Named
		}
		again, err := DecodeInferRequest(requestFor(ts...), Limits{})
		if err != nil {
			t.Fatalf("re-decoding: %v", err)
		}
		for i := range ts {
			if !sameTensor(again.Inputs[i].Tensor, ts[i].Tensor) {
				t.Fatalf("input %q changed in a round trip", ts[i].Name)
			}
		}
	})
}

// FuzzRoundTrip encodes tensors built from arbitrary bytes and decodes them.
func FuzzRoundTrip(f *testing.F) {
	f.Add(uint8(0), []byte{0, 0, 0x80, 0x7f, 1, 2, 3, 4}, uint64(1))
	f.Add(uint8(13), []byte("ab\xffc\x00"), uint64(2))
	f.Add(uint8(3), []byte{0xff, 0xfe, 0x7c, 0x00}, uint64(3))
	f.Fuzz(func(t *testing.T, dsel uint8, data []byte, seed uint64) {
		dt := allDTypes[int(dsel)%len(allDTypes)]
		data = append([]byte(nil), data...) // the fuzzer owns its input
		var tt *tensor.Tensor
		if dt == tensor.Bytes {
			// Split data into elements at pseudo-random points.
			rng := rand.New(rand.NewPCG(seed, 0))
			var strs [][]byte
			for len(data) > 0 {
				n := rng.IntN(len(data) + 1)
				strs = append(strs, data[:n])
				data = data[n:]
			}
			tt = &tensor.Tensor{DType: dt, Shape: tensor.Shape{len(strs)}, Strings: strs}
		} else {
			n := len(data) / dt.Size()
			tt = &tensor.Tensor{DType: dt, Shape: tensor.Shape{n}, Data: data[:n*dt.Size()]}
			if dt == tensor.Bool {
				for i := range tt.Data {
					tt.Data[i] &= 1
				}
			}
			if n%2 == 0 && seed%2 == 1 {
				tt.Shape = tensor.Shape{2, n / 2}
			}
		}
		body := requestFor(tensor.Named{Name: "x", Tensor: tt})
		if !json.Valid(body) {
			t.Fatalf("encoded invalid JSON %q", body)
		}
		r, err := DecodeInferRequest(body, Limits{})
		if err != nil {
			t.Fatalf("decode %s: %v", body, err)
		}
		if !sameTensor(r.Inputs[0].Tensor, tt) {
			t.Fatalf("round trip changed %s", body)
		}
	})
}
