package sdk

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"unsafe"

	"github.com/matryer/is"
)

// useStage registers s for one test; Register is once per process in a
// module, so tests reset the package state around it.
func useStage(t *testing.T, s Stage) {
	t.Helper()
	stage, stageErr = nil, nil
	Register(s)
	t.Cleanup(func() { stage, stageErr = nil, nil })
}

func TestTensorViews(t *testing.T) {
	is := is.New(t)
	x := NewFloat32("x", []int64{2, 2}, []float32{1, 2, 3, 4})
	is.NoErr(x.Validate())
	v := x.Float32s()
	is.Equal(v, []float32{1, 2, 3, 4})
	v[0] = 9
	is.Equal(x.Float32s()[0], float32(9)) // a view, not a copy
	is.Equal(x.Len(), 4)

	c := x.Clone()
	c.Float32s()[1] = 7
	c.Shape[0] = 5
	is.Equal(x.Float32s()[1], float32(2)) // Clone shares nothing
	is.Equal(x.Shape[0], int64(2))

	// Unaligned data is copied rather than viewed unaligned.
	raw := make([]byte, 9)
	u := Tensor{Name: "u", DType: Float32, Shape: []int64{2}, Data: raw[1:9]}
	if uintptr(unsafe.Pointer(&u.Data[0]))%4 != 0 {
		is.Equal(len(u.Float32s()), 2)
	}

	is.Equal(NewInt64("i", []int64{1}, []int64{-5}).Int64s(), []int64{-5})
	is.Equal(NewInt32("i", []int64{1}, []int32{-5}).Int32s(), []int32{-5})
	is.Equal(NewFloat64("d", []int64{1}, []float64{0.5}).Float64s(), []float64{0.5})
	is.Equal(NewBool("b", []int64{2}, []bool{true, false}).Bools(), []bool{true, false})
	is.Equal(NewUint8("u", []int64{2}, []uint8{1, 2}).Data, []byte{1, 2})
	is.Equal(View[float32](NewFloat32("e", []int64{0}, nil)), nil)

	defer func() {
		r := recover()
		is.True(r != nil)
		is.True(strings.Contains(fmt.Sprint(r), `INT64 view of FP32 tensor "x"`))
	}()
	_ = x.Int64s()
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		t    Tensor
		want string
	}{
		{"ok", NewFloat32("x", []int64{2}, []float32{1, 2}), ""},
		{"ok scalar", NewInt64("x", nil, []int64{1}), ""},
		{"ok bytes", NewBytes("s", []int64{2}, [][]byte{nil, []byte("a")}), ""},
		{"no name", NewFloat32("", []int64{1}, []float32{1}), "empty name"},
		{"long name", NewFloat32(strings.Repeat("n", 1025), []int64{1}, []float32{1}), "exceeds the maximum"},
		{"bad dtype", Tensor{Name: "x", DType: 14}, "unsupported dtype"},
		{"length", NewFloat32("x", []int64{3}, []float32{1, 2}), "needs 12 bytes, got 8"},
		{"negative dim", NewFloat32("x", []int64{-1}, nil), "negative"},
		{"rank", NewFloat32("x", make([]int64, 17), nil), "rank 17"},
		{"too big", NewFloat32("x", []int64{1 << 20, 1 << 11}, nil), "more than"},
		{"bytes count", NewBytes("s", []int64{3}, [][]byte{nil}), "needs 3 BYTES elements"},
		{"bytes with data", Tensor{Name: "s", DType: Bytes, Shape: []int64{}, Strings: [][]byte{nil}, Data: []byte{1}}, "Data set"},
		{"data with strings", Tensor{Name: "s", DType: Uint8, Shape: []int64{}, Strings: [][]byte{nil}, Data: []byte{1}}, "Strings set"},
		{"bad bool", Tensor{Name: "b", DType: Bool, Shape: []int64{1}, Data: []byte{2}}, "BOOL element 0 is 2"},
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

func TestListRoundTrip(t *testing.T) {
	is := is.New(t)
	ts := []Tensor{
		NewFloat32("x", []int64{1, 3}, []float32{1, 2, 3}),
		NewBytes("s", []int64{2}, [][]byte{[]byte("ab"), {}}),
		NewInt64("scalar", []int64{}, []int64{7}),
		NewUint8("empty", []int64{0, 4}, nil),
	}
	b, err := AppendTensorList(nil, ts)
	is.NoErr(err)
	is.Equal(len(b)%8, 0)
	got, err := DecodeTensorList(b)
	is.NoErr(err)
	is.Equal(len(got), len(ts))
	for i := range ts {
		is.Equal(got[i].Name, ts[i].Name)
		is.Equal(got[i].DType, ts[i].DType)
		is.Equal(got[i].Shape, ts[i].Shape)
		is.Equal(string(got[i].Data), string(ts[i].Data))
		is.Equal(len(got[i].Strings), len(ts[i].Strings))
	}
	is.Equal(got[0].Float32s(), []float32{1, 2, 3})
	is.Equal(string(got[1].Strings[0]), "ab")

	// The guest decoder views the input in place, with capacity clipped so
	// an append cannot spill into the next field.
	off := int(uintptr(unsafe.Pointer(&got[0].Data[0])) - uintptr(unsafe.Pointer(&b[0])))
	is.Equal(off%8, 0)
	is.Equal(cap(got[0].Data), len(got[0].Data))
	is.Equal(cap(got[1].Strings[0]), 2)
	_ = append(got[1].Strings[0], 'Z')
	again, err := DecodeTensorList(b)
	is.NoErr(err)
	is.Equal(string(again[1].Strings[1]), "")

	_, err = AppendTensorList(nil, []Tensor{ts[0], ts[0]})
	is.True(err != nil) // duplicate names
	_, err = DecodeTensorList(b[:len(b)-8])
	is.True(err != nil) // truncated
}

func TestDescribe(t *testing.T) {
	is := is.New(t)
	useStage(t, Stage{
		Name: `odd "name"` + "\n\x01é",
		Inputs: []Spec{
			{Name: "a", DType: Float32, Shape: []int64{-1, 3}},
			{Name: `b"\`, DType: Bytes, Shape: []int64{}, Optional: true},
		},
		Outputs: []Spec{{Name: "y", DType: BFloat16, Shape: []int64{1}}},
		Run:     func(in []Tensor) ([]Tensor, error) { return nil, nil },
	})
	status, out := Describe(nil)
	is.Equal(status, StatusOK)
	var d struct {
		ABI     int    `json:"abi"`
		Name    string `json:"name"`
		Inputs  []map[string]any
		Outputs []map[string]any
	}
	is.NoErr(json.Unmarshal(out, &d))
	is.Equal(d.ABI, 1)
	is.Equal(d.Name, `odd "name"`+"\n\x01é")
	is.Equal(len(d.Inputs), 2)
	is.Equal(d.Inputs[0]["datatype"], "FP32")
	is.Equal(d.Inputs[0]["shape"], []any{-1.0, 3.0})
	is.Equal(d.Inputs[0]["optional"], nil)
	is.Equal(d.Inputs[1]["name"], `b"\`)
	is.Equal(d.Inputs[1]["shape"], []any{})
	is.Equal(d.Inputs[1]["optional"], true)
	is.Equal(d.Outputs[0]["datatype"], "BF16")
}

func TestRegisterErrors(t *testing.T) {
	run := func(in []Tensor) ([]Tensor, error) { return nil, nil }
	f32 := func(name string) Spec { return Spec{Name: name, DType: Float32, Shape: []int64{1}} }
	tests := []struct {
		name  string
		stage Stage
		want  string
	}{
		{"nil run", Stage{Name: "m"}, "Run is nil"},
		{"empty input name", Stage{Run: run, Inputs: []Spec{f32("")}}, "input 0: empty name"},
		{"duplicate output", Stage{Run: run, Outputs: []Spec{f32("y"), f32("y")}}, `output "y" declared twice`},
		{"bad dtype", Stage{Run: run, Inputs: []Spec{{Name: "x", DType: 99}}}, "unsupported dtype"},
		{"bad dim", Stage{Run: run, Inputs: []Spec{{Name: "x", DType: Float32, Shape: []int64{-2}}}}, "dim -2"},
		{"optional output", Stage{Run: run, Outputs: []Spec{{Name: "y", DType: Float32, Optional: true}}}, "outputs cannot be optional"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			useStage(t, tc.stage)
			status, out := Describe(nil)
			is.Equal(status, StatusFailed)
			is.True(strings.Contains(string(out), tc.want))
			status, out = Call(nil, mustList(t))
			is.Equal(status, StatusFailed)
			is.True(strings.Contains(string(out), tc.want))
		})
	}

	t.Run("twice", func(t *testing.T) {
		is := is.New(t)
		useStage(t, Stage{Run: run})
		Register(Stage{Run: run})
		status, out := Describe(nil)
		is.Equal(status, StatusFailed)
		is.True(strings.Contains(string(out), "more than once"))
	})
	t.Run("none", func(t *testing.T) {
		is := is.New(t)
		stage, stageErr = nil, nil
		status, out := Describe(nil)
		is.Equal(status, StatusFailed)
		is.True(strings.Contains(string(out), "no stage registered"))
	})
}

func mustList(t *testing.T, ts ...Tensor) []byte {
	t.Helper()
	b, err := AppendTensorList(nil, ts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCall(t *testing.T) {
	var result func(in []Tensor) ([]Tensor, error)
	stageDef := Stage{
		Name: "test",
		Inputs: []Spec{
			{Name: "a", DType: Float32, Shape: []int64{-1, 2}},
			{Name: "b", DType: Bytes, Shape: []int64{1}, Optional: true},
		},
		Outputs: []Spec{
			{Name: "sum", DType: Float32, Shape: []int64{1}},
			{Name: "has_b", DType: Bool, Shape: []int64{}},
		},
		Run: func(in []Tensor) ([]Tensor, error) { return result(in) },
	}
	sum := func(in []Tensor) ([]Tensor, error) {
		var s float32
		for _, v := range in[0].Float32s() {
			s += v
		}
		return []Tensor{
			NewFloat32("", []int64{1}, []float32{s}),
			NewBool("has_b", []int64{}, []bool{in[1].Present()}),
		}, nil
	}
	a := NewFloat32("a", []int64{2, 2}, []float32{1, 2, 3, 4})
	b := NewBytes("b", []int64{1}, [][]byte{[]byte("x")})
	tests := []struct {
		name   string
		in     []byte
		run    func(in []Tensor) ([]Tensor, error)
		status int32
		want   string // substring of the message, or "" for OK
	}{
		{"ok", mustList(t, a), sum, StatusOK, ""},
		{"ok reordered with optional", mustList(t, b, a), sum, StatusOK, ""},
		{"unknown input", mustList(t, a, NewInt64("c", nil, []int64{1})), sum, StatusInvalid, `unknown input "c" (this module takes "a", "b")`},
		{"missing input", mustList(t, b), sum, StatusInvalid, `missing input "a"`},
		{"wrong dtype", mustList(t, NewFloat64("a", []int64{1, 2}, []float64{1, 2})), sum, StatusInvalid, `input "a": datatype is FP64, want FP32`},
		{"wrong shape", mustList(t, NewFloat32("a", []int64{1, 3}, []float32{1, 2, 3})), sum, StatusInvalid, `input "a": shape is [1 3], want [-1 2]`},
		{"wrong rank", mustList(t, NewFloat32("a", []int64{2}, []float32{1, 2})), sum, StatusInvalid, "shape is [2], want [-1 2]"},
		{"malformed list", []byte("WGTL\x01\x00"), sum, StatusFailed, "sdk: malformed input list"},
		{"invalid from Run", mustList(t, a), func([]Tensor) ([]Tensor, error) {
			return nil, fmt.Errorf("context: %w", Invalid("value %d too big", 7))
		}, StatusInvalid, "context: value 7 too big"},
		{"error from Run", mustList(t, a), func([]Tensor) ([]Tensor, error) { return nil, errors.New("boom") }, StatusFailed, "boom"},
		{"empty error", mustList(t, a), func([]Tensor) ([]Tensor, error) { return nil, errors.New("") }, StatusFailed, "without a message"},
		{"non-UTF-8 error", mustList(t, a), func([]Tensor) ([]Tensor, error) { return nil, errors.New("bad \xff") }, StatusFailed, "bad \uFFFD"},
		{"panic", mustList(t, a), func([]Tensor) ([]Tensor, error) { panic("kaput") }, StatusFailed, "panic: kaput"},
		{"runtime panic", mustList(t, a), func(in []Tensor) ([]Tensor, error) { _ = in[5]; return nil, nil }, StatusFailed, "panic: runtime error: index out of range"},
		{"too few outputs", mustList(t, a), func([]Tensor) ([]Tensor, error) { return nil, nil }, StatusFailed, `stage returned 0 outputs, but declares 2 ("sum", "has_b")`},
		{"misnamed output", mustList(t, a), func(in []Tensor) ([]Tensor, error) {
			out, _ := sum(in)
			out[1].Name = "other"
			return out, nil
		}, StatusFailed, `output 1 is named "other", but declared as "has_b"`},
		{"output dtype", mustList(t, a), func(in []Tensor) ([]Tensor, error) {
			out, _ := sum(in)
			out[0] = NewInt32("sum", []int64{1}, []int32{1})
			return out, nil
		}, StatusFailed, `output "sum": datatype is INT32, want FP32`},
		{"output data length", mustList(t, a), func(in []Tensor) ([]Tensor, error) {
			out, _ := sum(in)
			out[0] = NewFloat32("sum", []int64{1}, []float32{1, 2})
			return out, nil
		}, StatusFailed, "sdk: cannot encode outputs"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			useStage(t, stageDef)
			result = tc.run
			status, out := Call([]byte("junk")[:0], tc.in)
			is.Equal(status, tc.status)
			if tc.status != StatusOK {
				if !strings.Contains(string(out), tc.want) {
					t.Fatalf("message %q does not contain %q", out, tc.want)
				}
				return
			}
			res, err := DecodeTensorList(out)
			is.NoErr(err)
			is.Equal(len(res), 2)
			is.Equal(res[0].Name, "sum") // filled in from the Spec
			is.Equal(res[0].Float32s(), []float32{10})
			is.Equal(res[1].Bools()[0], strings.Contains(tc.name, "optional"))
		})
	}
}

func TestIsInvalid(t *testing.T) {
	is := is.New(t)
	is.True(IsInvalid(Invalid("x")))
	is.True(IsInvalid(fmt.Errorf("wrapped: %w", Invalid("x"))))
	is.True(!IsInvalid(errors.New("x")))
	is.True(!IsInvalid(nil))
	base := errors.New("base")
	is.True(errors.Is(Invalid("ctx: %w", base), base))
}

func TestNumElements(t *testing.T) {
	is := is.New(t)
	n, err := NumElements(nil)
	is.NoErr(err)
	is.Equal(n, 1)
	n, err = NumElements([]int64{0, math.MaxInt64})
	is.NoErr(err)
	is.Equal(n, 0)
	_, err = NumElements([]int64{1 << 30, 2})
	is.True(err != nil)
}
