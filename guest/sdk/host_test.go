//go:build !wasip1

package sdk_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"io"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/guest/sdk"
	"github.com/wasmgate/wasmgate/guest/sdk/sdktest"
	"github.com/wasmgate/wasmgate/hostfuncs"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// These tests run the SDK's host-function API against the real host
// functions (through sdktest's bridge).

func TestNoHost(t *testing.T) {
	is := is.New(t)
	_, err := sdk.Config()
	is.True(errors.Is(err, sdk.ErrUnsupported))
	is.True(strings.Contains(err.Error(), "no wasmgate host outside WebAssembly"))
}

func TestConfig(t *testing.T) {
	long := `{"labels":["` + strings.Repeat("x", 1000) + `"]}` // more than the first buffer
	tests := []struct {
		name, config, want string
	}{
		{"none", "", "{}"},
		{"short", `{"k":1}`, `{"k":1}`},
		{"longer than the first buffer", long, long},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			sdktest.New(t, hostfuncs.Caller{Config: []byte(tc.config)})
			b, err := sdk.Config()
			is.NoErr(err)
			is.Equal(string(b), tc.want)
		})
	}
}

func TestHandles(t *testing.T) {
	is := is.New(t)
	h := sdktest.New(t, hostfuncs.Caller{})
	is.Equal(sdk.LastError(), "")

	x, err := sdk.Put(sdk.NewFloat32("x", []int64{2, 3}, []float32{1, 2, 3, 4, 5, 6}))
	is.NoErr(err)
	dt, shape, err := x.Info()
	is.NoErr(err)
	is.Equal(dt, sdk.Float32)
	is.Equal(shape, []int64{2, 3})
	got, err := x.Read()
	is.NoErr(err)
	is.Equal(got.Float32s(), []float32{1, 2, 3, 4, 5, 6})
	is.Equal(got.Handle, sdk.Handle(0))
	is.Equal(h.Call().UsedBytes(), int64(24))

	// ReadAt is an io.ReaderAt over the data.
	buf := make([]byte, 16)
	n, err := x.ReadAt(buf[:8], 16)
	is.NoErr(err)
	is.Equal(n, 8)
	is.Equal(buf[:8], got.Data[16:24])
	n, err = x.ReadAt(buf, 16)
	is.Equal(err, io.EOF) // only 8 bytes are left
	is.Equal(n, 8)
	_, err = x.ReadAt(buf, 25)
	is.True(errors.Is(err, sdk.ErrInvalid)) // past the end

	// Put of a held tensor is its handle; Tensor describes a handle.
	ht, err := x.Tensor("y")
	is.NoErr(err)
	is.Equal(ht.Handle, x)
	is.Equal(ht.Shape, []int64{2, 3})
	again, err := sdk.Put(ht)
	is.NoErr(err)
	is.Equal(again, x)
	loaded, err := ht.Load()
	is.NoErr(err)
	is.Equal(loaded.Name, "y")
	is.Equal(loaded.Float32s(), []float32{1, 2, 3, 4, 5, 6})

	// BYTES round trip, and an empty and a scalar tensor.
	s, err := sdk.Put(sdk.NewBytes("s", []int64{3}, [][]byte{[]byte("ab"), {}, []byte("cde")}))
	is.NoErr(err)
	st, err := s.Read()
	is.NoErr(err)
	is.Equal(len(st.Strings), 3)
	is.Equal(string(st.Strings[0])+"|"+string(st.Strings[1])+"|"+string(st.Strings[2]), "ab||cde")
	e, err := sdk.Put(sdk.NewUint8("e", []int64{0, 5}, nil))
	is.NoErr(err)
	et, err := e.Read()
	is.NoErr(err)
	is.Equal(et.Shape, []int64{0, 5})
	is.Equal(len(et.Data), 0)
	b, err := sdk.Put(sdk.NewBool("b", nil, []bool{true}))
	is.NoErr(err)
	bt, err := b.Read()
	is.NoErr(err)
	is.Equal(bt.Bools(), []bool{true})

	used := h.Call().UsedBytes()
	x.Free()
	is.Equal(h.Call().UsedBytes(), used-24) // x's bytes go back to the quota
	_, _, err = x.Info()
	is.True(errors.Is(err, sdk.ErrNotFound))
	var he *sdk.HostError
	is.True(errors.As(err, &he))
	is.Equal(he.Code, sdk.CodeNotFound)
	is.Equal(he.Op, "tensor_info")
	is.True(strings.Contains(he.Message, "no tensor with handle"))
	is.True(strings.Contains(sdk.LastError(), "no tensor with handle"))

	_, err = sdk.Put(sdk.NewFloat32("bad", []int64{3}, []float32{1}))
	is.True(err != nil) // refused before it reaches the host
}

// Large tensors are read in 1 MiB pieces.
func TestReadLarge(t *testing.T) {
	is := is.New(t)
	sdktest.New(t, hostfuncs.Caller{})
	v := make([]float32, 700_000) // 2.8 MB
	for i := range v {
		v[i] = float32(i)
	}
	x, err := sdk.Put(sdk.NewFloat32("x", []int64{int64(len(v))}, v))
	is.NoErr(err)
	got, err := x.Read()
	is.NoErr(err)
	is.Equal(got.Float32s(), v)

	big := bytes.Repeat([]byte("0123456789abcdef"), 200_000) // 3.2 MB
	s, err := sdk.Put(sdk.NewBytes("s", []int64{2}, [][]byte{big, []byte("tail")}))
	is.NoErr(err)
	st, err := s.Read()
	is.NoErr(err)
	is.True(bytes.Equal(st.Strings[0], big))
	is.Equal(string(st.Strings[1]), "tail")
}

func TestQuota(t *testing.T) {
	is := is.New(t)
	sdktest.New(t, hostfuncs.Caller{QuotaBytes: 64})
	_, err := sdk.Put(sdk.NewFloat32("x", []int64{32}, make([]float32, 32)))
	is.True(errors.Is(err, sdk.ErrQuota))
	is.True(strings.Contains(err.Error(), "quota"))
}

func TestOp(t *testing.T) {
	sdktest.New(t, hostfuncs.Caller{})
	put := func(t *testing.T, v []float32, shape ...int64) sdk.Handle {
		h, err := sdk.Put(sdk.NewFloat32("", shape, v))
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	read := func(t *testing.T, h sdk.Handle) sdk.Tensor {
		x, err := h.Read()
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	tests := []struct {
		name  string
		op    string
		n     int
		attrs sdk.Attrs
		in    func(t *testing.T) []sdk.Handle
		check func(is *is.I, t *testing.T, out []sdk.Handle)
	}{
		{"Add", "Add", 0, sdk.Attrs{}, func(t *testing.T) []sdk.Handle {
			a := put(t, []float32{1, 2}, 2)
			return []sdk.Handle{a, a}
		}, func(is *is.I, t *testing.T, out []sdk.Handle) {
			is.Equal(len(out), 1)
			is.Equal(read(t, out[0]).Float32s(), []float32{2, 4})
		}},
		{"Transpose with ints", "Transpose", 0, sdk.Attrs{}.Ints("perm", 1, 0), func(t *testing.T) []sdk.Handle {
			return []sdk.Handle{put(t, []float32{1, 2, 3, 4, 5, 6}, 2, 3)}
		}, func(is *is.I, t *testing.T, out []sdk.Handle) {
			x := read(t, out[0])
			is.Equal(x.Shape, []int64{3, 2})
			is.Equal(x.Float32s(), []float32{1, 4, 2, 5, 3, 6})
		}},
		{"LeakyRelu with a float written 1.0", "LeakyRelu", 0, sdk.Attrs{}.Float("alpha", 1), func(t *testing.T) []sdk.Handle {
			return []sdk.Handle{put(t, []float32{-2, 3}, 2)}
		}, func(is *is.I, t *testing.T, out []sdk.Handle) {
			is.Equal(read(t, out[0]).Float32s(), []float32{-2, 3}) // alpha 1: unchanged
		}},
		{"TopK has two required outputs", "TopK", 0, sdk.Attrs{}.Int("axis", 0), func(t *testing.T) []sdk.Handle {
			k, err := sdk.Put(sdk.NewInt64("k", []int64{1}, []int64{2}))
			if err != nil {
				t.Fatal(err)
			}
			return []sdk.Handle{put(t, []float32{3, 9, 1, 7}, 4), k}
		}, func(is *is.I, t *testing.T, out []sdk.Handle) {
			is.Equal(len(out), 2)
			is.Equal(read(t, out[0]).Float32s(), []float32{9, 7})
			is.Equal(read(t, out[1]).Int64s(), []int64{1, 3})
		}},
		{"Dropout's optional mask with OpN", "Dropout", 2, sdk.Attrs{}, func(t *testing.T) []sdk.Handle {
			return []sdk.Handle{put(t, []float32{1, 2, 3}, 3)}
		}, func(is *is.I, t *testing.T, out []sdk.Handle) {
			is.Equal(len(out), 2)
			is.Equal(read(t, out[0]).Float32s(), []float32{1, 2, 3}) // inference: unchanged
			is.Equal(read(t, out[1]).Bools(), []bool{true, true, true})
		}},
		{"Dropout without its mask", "Dropout", 0, sdk.Attrs{}, func(t *testing.T) []sdk.Handle {
			return []sdk.Handle{put(t, []float32{1, 2, 3}, 3)}
		}, func(is *is.I, t *testing.T, out []sdk.Handle) {
			is.Equal(len(out), 1)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			out, err := sdk.OpN(tc.op, tc.n, tc.attrs, tc.in(t)...)
			is.NoErr(err)
			tc.check(is, t, out)
		})
	}

	// A variadic operator's outputs: docs/ABI.md §5.3 has op make as many
	// as n_out asks for.
	t.Run("Split into three with OpN", func(t *testing.T) {
		is := is.New(t)
		out, err := sdk.OpN("Split", 3, sdk.Attrs{}.Int("axis", 0).Int("num_outputs", 3), put(t, []float32{1, 2, 3, 4, 5, 6}, 6))
		is.NoErr(err)
		is.Equal(len(out), 3)
		is.Equal(read(t, out[2]).Float32s(), []float32{5, 6})
	})

	errs := []struct {
		name  string
		op    string
		attrs sdk.Attrs
		in    []sdk.Handle
		want  error
	}{
		{"unknown operator", "NoSuchOp", sdk.Attrs{}, []sdk.Handle{put(t, []float32{1}, 1)}, sdk.ErrUnsupported},
		{"unknown handle", "Relu", sdk.Attrs{}, []sdk.Handle{999}, sdk.ErrNotFound},
		{"shapes disagree", "Add", sdk.Attrs{}, []sdk.Handle{put(t, []float32{1, 2}, 2), put(t, []float32{1, 2, 3}, 3)}, sdk.ErrFailed},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			_, err := sdk.Op(tc.op, tc.attrs, tc.in...)
			is.True(errors.Is(err, tc.want))
			is.True(strings.Contains(err.Error(), "op: "))
		})
	}
	t.Run("bad attrs never reach the host", func(t *testing.T) {
		is := is.New(t)
		_, err := sdk.Op("Relu", sdk.Attrs{}.Str("", "x"), put(t, []float32{1}, 1))
		is.True(err != nil)
		is.True(strings.Contains(err.Error(), "attribute"))
	})
}

// runner answers model_run for the tests: it records what it was given.
type runner struct {
	name string
	in   []*tensor.Tensor
	out  []*tensor.Tensor
	err  error
}

func (r *runner) RunModel(_ context.Context, name string, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	r.name, r.in = name, in
	return r.out, r.err
}

func TestRunModel(t *testing.T) {
	is := is.New(t)
	r := &runner{out: []*tensor.Tensor{
		tensor.MustFrom(tensor.Shape{1}, []int64{4}),
		tensor.MustFrom(tensor.Shape{1, 2}, []float32{0.25, 0.75}),
	}}
	sdktest.New(t, hostfuncs.Caller{Runner: r})
	x, err := sdk.Put(sdk.NewFloat32("x", []int64{1}, []float32{3}))
	is.NoErr(err)
	out, err := sdk.RunModel("other", x)
	is.NoErr(err)
	is.Equal(r.name, "other")
	is.Equal(len(r.in), 1)
	is.Equal(tensor.Values[float32](r.in[0]), []float32{3})
	is.Equal(len(out), 2)
	lbl, err := out[0].Read()
	is.NoErr(err)
	is.Equal(lbl.Int64s(), []int64{4})

	r.err = fault.Errorf(fault.Forbidden, "model other is not in calls")
	_, err = sdk.RunModel("other", x)
	is.True(errors.Is(err, sdk.ErrDenied))
	is.True(strings.Contains(err.Error(), "not in calls"))
}

func TestImages(t *testing.T) {
	is := is.New(t)
	sdktest.New(t, hostfuncs.Caller{})
	img := image.NewGray(image.Rect(0, 0, 4, 2))
	for i := range img.Pix {
		img.Pix[i] = uint8(10 * i)
	}
	var buf bytes.Buffer
	is.NoErr(png.Encode(&buf, img))

	h, err := sdk.DecodeImage(buf.Bytes(), 1)
	is.NoErr(err)
	x, err := h.Read()
	is.NoErr(err)
	is.Equal(x.DType, sdk.Uint8)
	is.Equal(x.Shape, []int64{2, 4, 1})
	is.Equal(x.Data, img.Pix)

	r, err := sdk.ResizeImage(h, 1, 2, sdk.FilterArea)
	is.NoErr(err)
	small, err := r.Read()
	is.NoErr(err)
	is.Equal(small.Shape, []int64{1, 2, 1})
	is.Equal(small.Data, []byte{25, 45}) // means of (0,10,40,50) and (20,30,60,70)

	n, err := sdk.NormalizeImage(h, sdk.LayoutCHW, 0.5, []float32{1}, []float32{2})
	is.NoErr(err)
	nt, err := n.Read()
	is.NoErr(err)
	is.Equal(nt.Shape, []int64{1, 2, 4})
	is.Equal(nt.Float32s()[1], float32((10*0.5-1)/2))
	n, err = sdk.NormalizeImage(h, sdk.LayoutHWC, 1, nil, nil)
	is.NoErr(err)
	nt, err = n.Read()
	is.NoErr(err)
	is.Equal(nt.Float32s()[7], float32(70))

	_, err = sdk.NormalizeImage(h, sdk.LayoutHWC, 1, []float32{1, 2, 3}, nil)
	is.True(errors.Is(err, sdk.ErrInvalid)) // 3 means for 1 channel, caught before the host reads past them
	_, err = sdk.DecodeImage([]byte("not an image"), 1)
	is.True(errors.Is(err, sdk.ErrFailed))
	is.True(strings.Contains(err.Error(), "image_decode: "))
	_, err = sdk.DecodeImage(buf.Bytes(), 2)
	is.True(errors.Is(err, sdk.ErrInvalid))
	_, err = sdk.ResizeImage(h, 0, 3, sdk.FilterNearest)
	is.True(errors.Is(err, sdk.ErrInvalid))
	_, err = sdk.ResizeImage(h, 3, 3, 9)
	is.True(errors.Is(err, sdk.ErrInvalid))
}

// A stage run as the server runs it: a large input arrives held and is
// loaded; a held output goes back by handle.
func TestRunHeld(t *testing.T) {
	is := is.New(t)
	h := sdktest.New(t, hostfuncs.Caller{})
	h.InlineBytes = 16
	restore := useStage(sdk.Stage{
		Name:    "sum-and-echo",
		Inputs:  []sdk.Spec{{Name: "x", DType: sdk.Float32, Shape: []int64{-1}}},
		Outputs: []sdk.Spec{{Name: "sum", DType: sdk.Float32, Shape: []int64{1}}, {Name: "x", DType: sdk.Float32, Shape: []int64{-1}}},
		Run: func(in []sdk.Tensor) ([]sdk.Tensor, error) {
			if !in[0].Held() {
				return nil, errors.New("expected a held input")
			}
			x, err := in[0].Load()
			if err != nil {
				return nil, err
			}
			var s float32
			for _, v := range x.Float32s() {
				s += v
			}
			return []sdk.Tensor{sdk.NewFloat32("sum", []int64{1}, []float32{s}), in[0]}, nil
		},
	})
	defer restore()
	in := tensor.MustFrom(tensor.Shape{8}, []float32{1, 2, 3, 4, 5, 6, 7, 8})
	status, msg, out, err := h.Run(tensor.Named{Name: "x", Tensor: in})
	is.NoErr(err)
	is.Equal(msg, "")
	is.Equal(status, sdk.StatusOK)
	is.Equal(tensor.Values[float32](out[0].Tensor), []float32{36})
	is.True(out[1].Tensor == in) // the same host tensor, never copied through the guest
}

func useStage(s sdk.Stage) func() { return sdk.UseStageForTest(s) }
