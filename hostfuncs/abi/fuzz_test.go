package abi_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/wasmgate/wasmgate/guest/sdk"
	"github.com/wasmgate/wasmgate/hostfuncs/abi"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// FuzzDecodeTensorList checks, for any input, that the decoder does not
// panic, that whatever it accepts is the canonical encoding (re-encoding
// gives the same bytes, so nothing was skipped or guessed), that the result
// does not alias the input, and that the guest SDK's decoder accepts and
// rejects exactly the same inputs with the same content.
func FuzzDecodeTensorList(f *testing.F) {
	for _, tc := range roundTripCases() {
		b, err := abi.AppendTensorList(nil, tc.ts)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, tc := range decodeErrorCases() {
		f.Add(tc.b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in := bytes.Clone(b)
		ts, err := abi.DecodeTensorList(in)
		gts, gerr := sdk.DecodeTensorList(b)
		if (err == nil) != (gerr == nil) {
			t.Fatalf("host and guest decoders disagree: host %v, guest %v", err, gerr)
		}
		if err != nil {
			return
		}
		for i := range in {
			in[i] ^= 0xff
		}
		again, err := abi.AppendTensorList(nil, ts)
		if err != nil {
			t.Fatalf("decoded list does not re-encode: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs from the accepted input:\n in %x\nout %x", b, again)
		}
		if len(gts) != len(ts) {
			t.Fatalf("guest decoded %d tensors, host %d", len(gts), len(ts))
		}
		for i := range ts {
			if !sameAsGuest(ts[i], gts[i]) {
				t.Fatalf("tensor %d: host %q %v, guest %q %v%v", i, ts[i].Name, ts[i].Tensor, gts[i].Name, gts[i].DType, gts[i].Shape)
			}
		}
		gagain, err := sdk.AppendTensorList(nil, gts)
		if err != nil || !bytes.Equal(gagain, b) {
			t.Fatalf("guest re-encoding differs (%v)", err)
		}
	})
}

func sameAsGuest(h tensor.Named, g sdk.Tensor) bool {
	if h.Name != g.Name || uint8(h.DType) != uint8(g.DType) || len(h.Shape) != len(g.Shape) ||
		!bytes.Equal(h.Data, g.Data) || len(h.Strings) != len(g.Strings) {
		return false
	}
	for i := range h.Shape {
		if int64(h.Shape[i]) != g.Shape[i] {
			return false
		}
	}
	for i := range h.Strings {
		if !bytes.Equal(h.Strings[i], g.Strings[i]) {
			return false
		}
	}
	return true
}

// FuzzDecodeDescription checks that the description decoder never panics
// and that whatever it accepts is valid and survives a JSON round trip.
func FuzzDecodeDescription(f *testing.F) {
	f.Add([]byte(docExample))
	f.Add([]byte(`{"abi":1,"name":"m","inputs":[{"name":"s","datatype":"INT64","shape":[]}],"outputs":[{"name":"y","datatype":"FP16","shape":[-1,3]}]}`))
	f.Add([]byte(`{"abi":1,"inputs":[` + everyDatatype() + `]}`))
	f.Add([]byte(`{"abi":1,"inputs":[{"name":"x","datatype":"FP32","shape":[3,-2]}]}`))
	f.Add([]byte(`{"abi":2}`))
	f.Add([]byte(`{"abi":1,"inputs":[{"name":"\u00e9\"\\\n","datatype":"BYTES","shape":[-1],"optional":true}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := abi.DecodeDescription(b)
		if err != nil {
			return
		}
		if err := d.Validate(); err != nil {
			t.Fatalf("accepted an invalid description: %v", err)
		}
		enc, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		again, err := abi.DecodeDescription(enc)
		if err != nil {
			t.Fatalf("re-encoded description rejected: %v\n%s", err, enc)
		}
		if !reflect.DeepEqual(again, d) {
			t.Fatalf("round trip changed the description:\n%+v\n%+v", d, again)
		}
	})
}

// TestGuestDTypeTable holds the SDK's copy of the dtype table to the host's.
func TestGuestDTypeTable(t *testing.T) {
	for c := range 256 {
		h, g := tensor.DType(c), sdk.DType(c)
		if h.Valid() != g.Valid() || h.Size() != g.Size() || (h.Valid() && h.String() != g.String()) {
			t.Errorf("dtype %d: host %v valid=%v size=%d, guest %v valid=%v size=%d", c, h, h.Valid(), h.Size(), g, g.Valid(), g.Size())
		}
	}
}
