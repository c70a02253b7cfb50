package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/matryer/is"
)

// heldBytes is the encoding docs/ABI.md §2 gives a host-held tensor, built
// by hand so the codec is checked against the text, not against itself.
func heldBytes(name string, code uint32, dims []int64, handle uint32) []byte {
	b := []byte("WGTL\x01\x00\x00\x00")
	b = le.AppendUint32(b, uint32(len(name)))
	b = append(b, name...)
	b = le.AppendUint32(b, code)
	b = le.AppendUint32(b, uint32(len(dims)))
	for _, d := range dims {
		b = le.AppendUint64(b, uint64(d))
	}
	b = le.AppendUint64(b, 4)
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
	b = le.AppendUint32(b, handle)
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
	return b
}

func TestHeldCodec(t *testing.T) {
	is := is.New(t)
	img := Tensor{Name: "image", DType: Bytes, Shape: []int64{1}, Handle: 7}
	x := NewFloat32("x", []int64{2}, []float32{1, 2})
	b, err := AppendTensorList(nil, []Tensor{img, x})
	is.NoErr(err)
	is.Equal(len(b)%8, 0)
	// The held tensor is exactly the documented bytes (dtype 8 | bit 31).
	want := heldBytes("image", 8|0x80000000, []int64{1}, 7)
	is.Equal(b[8:len(want)], want[8:])

	_, err = DecodeTensorList(b)
	is.True(err != nil) // the strict decoder, like the host's, refuses held tensors
	is.True(strings.Contains(err.Error(), "host-held tensor where none is allowed"))

	got, err := DecodeTensorListHeld(b)
	is.NoErr(err)
	is.Equal(len(got), 2)
	is.Equal(got[0].Name, "image")
	is.Equal(got[0].DType, Bytes)
	is.Equal(got[0].Shape, []int64{1})
	is.Equal(got[0].Handle, Handle(7))
	is.True(got[0].Held())
	is.Equal(got[0].Len(), 1)
	is.Equal(len(got[0].Strings), 0)
	is.Equal(got[1].Float32s(), []float32{1, 2})
	is.True(!got[1].Held())

	again, err := AppendTensorList(nil, got)
	is.NoErr(err)
	is.True(bytes.Equal(again, b)) // canonical round trip

	c := got[0].Clone()
	is.Equal(c.Handle, Handle(7))
}

func TestHeldDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"handle 0", heldBytes("x", 1|0x80000000, []int64{4}, 0), "handle 0"},
		{"bad dtype", heldBytes("x", 14|0x80000000, []int64{4}, 3), "dtype 14 is not supported"},
		{"other high bit", heldBytes("x", 1|0x40000000, []int64{4}, 3), "not supported"},
		{"data_len not 4", func() []byte {
			b := heldBytes("x", 1|0x80000000, nil, 3)
			le.PutUint64(b[8+4+1+4+4:], 8) // after the header, name_len, name, dtype and rank
			return b
		}(), "not 4"},
		{"non-zero padding", func() []byte {
			b := heldBytes("x", 1|0x80000000, nil, 3)
			b[len(b)-1] = 1
			return b
		}(), "padding after data is not zero"},
		{"truncated", heldBytes("x", 1|0x80000000, nil, 3)[:36], "runs past the end"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			_, err := DecodeTensorListHeld(tc.b)
			is.True(err != nil)
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestHeldValidate(t *testing.T) {
	tests := []struct {
		name string
		t    Tensor
		want string
	}{
		{"ok", Tensor{Name: "x", DType: Float32, Shape: []int64{1 << 20, 256}, Handle: 1}, ""},
		{"with data", Tensor{Name: "x", DType: Uint8, Shape: []int64{1}, Data: []byte{1}, Handle: 1}, "Data or Strings set"},
		{"with strings", Tensor{Name: "x", DType: Bytes, Shape: []int64{1}, Strings: [][]byte{nil}, Handle: 1}, "Data or Strings set"},
		{"bad shape", Tensor{Name: "x", DType: Uint8, Shape: []int64{-1}, Handle: 1}, "negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			err := tc.t.Validate()
			if tc.want == "" {
				is.NoErr(err)
				return
			}
			is.True(err != nil)
			is.True(strings.Contains(err.Error(), tc.want))
		})
	}
}

// A stage gets held inputs as they are, and may return held outputs.
func TestCallHeld(t *testing.T) {
	is := is.New(t)
	var got []Tensor
	useStage(t, Stage{
		Name:    "held",
		Inputs:  []Spec{{Name: "x", DType: Float32, Shape: []int64{-1}}},
		Outputs: []Spec{{Name: "y", DType: Float32, Shape: []int64{-1}}},
		Run: func(in []Tensor) ([]Tensor, error) {
			got = in
			return []Tensor{{Name: "y", DType: Float32, Shape: in[0].Shape, Handle: in[0].Handle + 1}}, nil
		},
	})
	status, out := Call(nil, heldBytes("x", 1|0x80000000, []int64{1 << 20}, 5))
	is.Equal(string(out[:4]), "WGTL")
	is.Equal(status, StatusOK)
	is.Equal(got[0].Handle, Handle(5))
	is.Equal(got[0].Shape, []int64{1 << 20})
	is.Equal(out, heldBytes("y", 1|0x80000000, []int64{1 << 20}, 6))

	// A view of a held tensor is a mistake the message explains.
	useStage(t, Stage{
		Name:    "view",
		Inputs:  []Spec{{Name: "x", DType: Float32, Shape: []int64{-1}}},
		Outputs: []Spec{},
		Run: func(in []Tensor) ([]Tensor, error) {
			_ = in[0].Float32s()
			return nil, nil
		},
	})
	status, out = Call(nil, heldBytes("x", 1|0x80000000, []int64{3}, 5))
	is.Equal(status, StatusFailed)
	is.True(strings.Contains(string(out), `view of host-held tensor "x" (handle 5): Load it first`))
}

func TestAttrs(t *testing.T) {
	base := Attrs{}.Int("axis", 1)
	tests := []struct {
		name  string
		attrs Attrs
		want  string // JSON, or "" for none
		err   string
	}{
		{"none", Attrs{}, "", ""},
		{"example", Attrs{}.Int("axis", 1).Float("alpha", 1).Ints("perm", 1, 0), `{"axis":1,"alpha":1.0,"perm":[1,0]}`, ""},
		{"floats", Attrs{}.Floats("scales", 1, 2.5, -0, 1e-7, 3e20, 100000), `{"scales":[1.0,2.5,0.0,1e-07,3e+20,100000.0]}`, ""},
		{"float32 shortest", Attrs{}.Float("eps", 1e-5).Float("x", 0.1), `{"eps":1e-05,"x":0.1}`, ""},
		{"negative", Attrs{}.Float("a", -2).Int("b", -3), `{"a":-2.0,"b":-3}`, ""},
		{"strings", Attrs{}.Str("mode", `lin"ear`).Strs("dirs", "a", "\n"), `{"mode":"lin\"ear","dirs":["a","\u000a"]}`, ""},
		{"empty lists", Attrs{}.Ints("a").Floats("b"), `{"a":[],"b":[]}`, ""},
		{"replace keeps position", Attrs{}.Int("a", 1).Int("b", 2).Float("a", 3), `{"a":3.0,"b":2}`, ""},
		{"tensor", Attrs{}.Tensor("value", Int64, []int64{1}, 7), `{"value":{"datatype":"INT64","shape":[1],"data":[7]}}`, ""},
		{"shared base 1", base.Int("b", 2), `{"axis":1,"b":2}`, ""},
		{"shared base 2", base.Int("c", 3), `{"axis":1,"c":3}`, ""},
		{"NaN", Attrs{}.Float("a", float32(math.NaN())).Int("b", 1), "", `attribute "a"`},
		{"Inf in list", Attrs{}.Floats("a", 1, float32(math.Inf(1))), "", "element 1"},
		{"empty name", Attrs{}.Int("", 1), "", "name"},
		{"bytes tensor", Attrs{}.Tensor("v", Bytes, nil), "", "not numeric"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			b, err := tc.attrs.JSON()
			if tc.err != "" {
				is.True(err != nil)
				is.True(strings.Contains(err.Error(), tc.err))
				is.True(strings.Contains(tc.attrs.String(), "invalid attributes"))
				return
			}
			is.NoErr(err)
			is.Equal(string(b), tc.want)
			if b != nil {
				var v map[string]any
				is.NoErr(json.Unmarshal(b, &v)) // valid JSON
			}
		})
	}
}

func TestHostError(t *testing.T) {
	tests := []struct {
		code     int32
		sentinel error
		text     string
	}{
		{CodeInvalid, ErrInvalid, "EINVAL"},
		{CodeNotFound, ErrNotFound, "ENOTFOUND"},
		{CodeQuota, ErrQuota, "EQUOTA"},
		{CodeUnsupported, ErrUnsupported, "EUNSUPPORTED"},
		{CodeFailed, ErrFailed, "EFAILED"},
		{CodeDenied, ErrDenied, "EDENIED"},
		{CodeTimeout, ErrTimeout, "ETIMEOUT"},
		{-99, nil, "error -99"},
	}
	for _, tc := range tests {
		t.Run(tc.text, func(t *testing.T) {
			is := is.New(t)
			var err error = &HostError{Code: tc.code, Op: "op", Message: "op: it broke"}
			is.Equal(err.Error(), "op: it broke ("+tc.text+")")
			is.Equal((&HostError{Code: tc.code, Op: "op"}).Error(), "op: "+tc.text)
			if tc.sentinel != nil {
				is.True(errors.Is(err, tc.sentinel))
			}
			for _, other := range codeErrs {
				if other != tc.sentinel {
					is.True(!errors.Is(err, other))
				}
			}
			var he *HostError
			is.True(errors.As(err, &he))
			is.Equal(he.Code, tc.code)
		})
	}
}
