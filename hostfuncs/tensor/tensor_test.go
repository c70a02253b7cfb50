package tensor

import (
	"math"
	"testing"

	"github.com/matryer/is"
)

func TestNumElements(t *testing.T) {
	cases := []struct {
		shape Shape
		n     int
		err   bool
	}{
		{Shape{}, 1, false},
		{Shape{0, 5}, 0, false},
		{Shape{2, 3, 4}, 24, false},
		{Shape{-1}, 0, true},
		{Shape{1 << 20, 1 << 20}, 0, true},    // over MaxElements
		{Shape{1 << 40, 1 << 40, 0}, 0, true}, // overflow before the zero
		{make(Shape, MaxRank+1), 0, true},     // rank
		{Shape{MaxElements}, MaxElements, false},
	}
	for _, c := range cases {
		is := is.New(t)
		n, err := c.shape.NumElements()
		is.Equal(err != nil, c.err)
		if !c.err {
			is.Equal(n, c.n)
		}
	}
}

func TestDTypeTable(t *testing.T) {
	is := is.New(t)
	for _, name := range []string{"BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32", "FP64", "BYTES", "BF16"} {
		d, ok := ParseV2(name)
		is.True(ok)
		is.Equal(d.String(), name)
		back, ok := FromONNX(int32(d))
		is.True(ok)
		is.Equal(back, d)
	}
	_, ok := ParseV2("fp32")
	is.True(!ok)         // names are case-sensitive
	_, ok = FromONNX(14) // COMPLEX64 is not held
	is.True(!ok)
	is.Equal(Float32.Size(), 4)
	is.Equal(Bytes.Size(), 0)
	is.Equal(DTypeOf[F16](), Float16)
	is.Equal(DTypeOf[bool](), Bool)
}

// Every half-precision value converts to float32 and back unchanged.
func TestF16RoundTripExhaustive(t *testing.T) {
	for i := range 1 << 16 {
		h := F16(i)
		f := h.Float32()
		back := F16From(f)
		if math.IsNaN(float64(f)) {
			if !math.IsNaN(float64(back.Float32())) {
				t.Fatalf("%#04x: NaN came back as %#04x", i, back)
			}
			continue
		}
		if back != h {
			t.Fatalf("%#04x -> %v -> %#04x", i, f, back)
		}
	}
}

func TestF16Rounding(t *testing.T) {
	cases := []struct {
		in   float32
		want float32
	}{
		{1, 1},
		{65504, 65504},
		{65520, float32(math.Inf(1))}, // rounds up past the largest finite value
		{1 + 1.0/2048, 1},             // a tie rounds to even
		{1 + 3.0/2048, 1 + 2.0/1024},  // a tie rounds to even (up)
		{5.96e-8, 5.960464477539063e-08},
		{1e-9, 0},
	}
	for _, c := range cases {
		if got := F16From(c.in).Float32(); got != c.want {
			t.Errorf("F16From(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestBF16(t *testing.T) {
	is := is.New(t)
	is.Equal(BF16From(1).Float32(), float32(1))
	is.Equal(BF16From(3.140625).Float32(), float32(3.140625))
	is.True(math.IsNaN(float64(BF16From(float32(math.NaN())).Float32())))
	is.Equal(BF16From(1+1.0/256).Float32(), float32(1)) // tie to even
}

func TestTensorViewsAndValidate(t *testing.T) {
	is := is.New(t)
	x := MustFrom(Shape{2, 2}, []float32{1, 2, 3, 4})
	v := Values[float32](x)
	v[3] = 9
	is.Equal(x.Float64At(3), 9.0) // views write through
	is.NoErr(x.Validate())
	is.Equal(x.Len(), 4)
	c := x.Clone()
	Values[float32](c)[0] = 7
	is.Equal(x.Float64At(0), 1.0) // clones do not alias
	x.Shape = Shape{3}
	is.True(x.Validate() != nil)
	_, err := From(Shape{3}, []int64{1, 2})
	is.True(err != nil)
	s, err := FromStrings(Shape{2}, [][]byte{[]byte("a"), []byte("bc")})
	is.NoErr(err)
	is.NoErr(s.Validate())
	is.Equal(s.ByteSize(), 2*24+3)
	_, err = New(DType(14), Shape{1})
	is.True(err != nil)
}

func TestViewOfWrongTypePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("an int64 view of a float32 tensor did not panic")
		}
	}()
	_ = Values[int64](MustNew(Float32, Shape{2}))
}
