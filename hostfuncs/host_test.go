package hostfuncs_test

import (
	"context"
	"encoding/binary"
	"log/slog"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/matryer/is"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/hostfuncs"
	"github.com/wasmgate/wasmgate/hostfuncs/abi"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
	"github.com/wasmgate/wasmgate/tests/wasmgen"
)

// sigs are the host functions' signatures as wasmgen spells them (wazero
// value types are the wasm type bytes).
var sigs = func() map[string][2][]wasmgen.ValType {
	out := map[string][2][]wasmgen.ValType{}
	for name, sig := range hostfuncs.Signatures() {
		var conv [2][]wasmgen.ValType
		for k, ts := range sig {
			for _, t := range ts {
				conv[k] = append(conv[k], wasmgen.ValType(t))
			}
		}
		out[name] = conv
	}
	return out
}()

const (
	I32 = wasmgen.I32
	I64 = wasmgen.I64
)

// guest is a module that imports every host function and exports a twin of
// each ("x_" + name) that forwards its arguments, so tests can call host
// functions across the real wazero boundary with memory they control.
type guest struct {
	mod api.Module
	mem api.Memory
}

func newGuest(t *testing.T) *guest {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(true))
	t.Cleanup(func() { r.Close(ctx) })
	if err := hostfuncs.Instantiate(ctx, r); err != nil {
		t.Fatal(err)
	}
	var m wasmgen.Module
	names := hostfuncs.Names()
	idx := map[string]uint32{}
	for _, n := range names {
		s, ok := sigs[n]
		if !ok {
			t.Fatalf("test has no signature for host function %s", n)
		}
		idx[n] = m.ImportFunc("wasmgate", n, s[0], s[1])
	}
	for _, n := range names {
		s := sigs[n]
		var body [][]byte
		for i := range s[0] {
			body = append(body, wasmgen.LocalGet(uint32(i)))
		}
		body = append(body, wasmgen.Call(idx[n]))
		m.Export("x_"+n, m.Func(s[0], s[1], nil, body...))
	}
	m.Memory(16, 0)
	mod, err := r.Instantiate(ctx, m.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return &guest{mod: mod, mem: mod.Memory()}
}

// call invokes host function name with args under the host call c.
func (g *guest) call(t *testing.T, c *hostfuncs.Call, name string, args ...uint64) (int64, error) {
	t.Helper()
	res, err := g.mod.ExportedFunction("x_"+name).Call(hostfuncs.WithCall(context.Background(), c), args...)
	if err != nil || len(res) == 0 {
		return 0, err
	}
	if sigs[name][1][0] == I64 {
		return int64(res[0]), nil
	}
	return int64(int32(res[0])), nil
}

func (g *guest) mustCall(t *testing.T, c *hostfuncs.Call, name string, args ...uint64) int64 {
	t.Helper()
	v, err := g.call(t, c, name, args...)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

func (g *guest) write(t *testing.T, at uint32, b []byte) (uint32, uint32) {
	if !g.mem.Write(at, b) {
		t.Fatal("write outside memory")
	}
	return at, uint32(len(b))
}

func (g *guest) read(t *testing.T, at, n uint32) []byte {
	b, ok := g.mem.Read(at, n)
	if !ok {
		t.Fatal("read outside memory")
	}
	return append([]byte(nil), b...)
}

// put stores t in the host through tensor_put and returns its handle.
func (g *guest) put(t *testing.T, c *hostfuncs.Call, x *tensor.Tensor) uint64 {
	t.Helper()
	b, err := abi.AppendTensorList(nil, []tensor.Named{{Name: "t", Tensor: x}})
	if err != nil {
		t.Fatal(err)
	}
	p, n := g.write(t, 4096, b)
	h := g.mustCall(t, c, "tensor_put", uint64(p), uint64(n))
	if h <= 0 {
		t.Fatalf("tensor_put = %d", h)
	}
	return uint64(h)
}

func lastError(t *testing.T, g *guest, c *hostfuncs.Call) string {
	n := g.mustCall(t, c, "last_error", 0, 0)
	g.mustCall(t, c, "last_error", 100, uint64(n))
	return string(g.read(t, 100, uint32(n)))
}

func TestConfigAndLastError(t *testing.T) {
	is := is.New(t)
	g := newGuest(t)
	c := hostfuncs.NewCall(hostfuncs.Caller{Config: []byte(`{"labels":["a","b"]}`)})
	is.Equal(g.mustCall(t, c, "config", 0, 4), int64(20)) // too small: nothing written
	is.Equal(g.read(t, 0, 4), []byte{0, 0, 0, 0})
	is.Equal(g.mustCall(t, c, "config", 0, 64), int64(20))
	is.Equal(string(g.read(t, 0, 20)), `{"labels":["a","b"]}`)
	empty := hostfuncs.NewCall(hostfuncs.Caller{})
	is.Equal(g.mustCall(t, empty, "config", 0, 64), int64(2)) // "{}"

	is.Equal(g.mustCall(t, c, "last_error", 0, 64), int64(0))
	is.Equal(g.mustCall(t, c, "tensor_free", 99), int64(hostfuncs.ENOTFOUND))
	is.True(strings.Contains(lastError(t, g, c), "handle 99"))
}

func TestTensorHandles(t *testing.T) {
	is := is.New(t)
	g := newGuest(t)
	c := hostfuncs.NewCall(hostfuncs.Caller{})
	x := tensor.MustFrom(tensor.Shape{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	h := g.put(t, c, x)
	is.Equal(c.UsedBytes(), int64(24))

	is.Equal(g.mustCall(t, c, "tensor_info", h, 0, 64), int64(8+16))
	info := g.read(t, 0, 24)
	is.Equal(binary.LittleEndian.Uint32(info), uint32(tensor.Float32))
	is.Equal(binary.LittleEndian.Uint32(info[4:]), uint32(2))
	is.Equal(binary.LittleEndian.Uint64(info[16:]), uint64(3))

	// Read the data in two pieces, the second cut short at the end.
	is.Equal(g.mustCall(t, c, "tensor_read", h, 0, 200, 16), int64(16))
	is.Equal(g.mustCall(t, c, "tensor_read", h, 16, 216, 100), int64(8))
	data := g.read(t, 200, 24)
	is.Equal(math.Float32frombits(binary.LittleEndian.Uint32(data[20:])), float32(6))
	is.Equal(g.mustCall(t, c, "tensor_read", h, 25, 200, 4), int64(hostfuncs.EINVAL))

	is.Equal(g.mustCall(t, c, "tensor_free", h), int64(0))
	is.Equal(c.UsedBytes(), int64(0))
	is.Equal(g.mustCall(t, c, "tensor_info", h, 0, 64), int64(hostfuncs.ENOTFOUND))

	// A list that is not one valid tensor is refused.
	p, n := g.write(t, 4096, []byte("WGTL\x02\x00\x00\x00garbage!"))
	is.Equal(g.mustCall(t, c, "tensor_put", uint64(p), uint64(n)), int64(hostfuncs.EINVAL))

	// Strings are read in the list's element encoding.
	s, _ := tensor.FromStrings(tensor.Shape{2}, [][]byte{[]byte("ab"), []byte("c")})
	hs := g.put(t, c, s)
	is.Equal(g.mustCall(t, c, "tensor_read", hs, 0, 300, 64), int64(11))
	is.Equal(g.read(t, 300, 11), []byte{2, 0, 0, 0, 'a', 'b', 1, 0, 0, 0, 'c'})
}

func TestQuota(t *testing.T) {
	is := is.New(t)
	g := newGuest(t)
	c := hostfuncs.NewCall(hostfuncs.Caller{QuotaBytes: 100})
	g.put(t, c, tensor.MustNew(tensor.Float32, tensor.Shape{20})) // 80 bytes
	b, _ := abi.AppendTensorList(nil, []tensor.Named{{Name: "t", Tensor: tensor.MustNew(tensor.Float32, tensor.Shape{8})}})
	p, n := g.write(t, 4096, b)
	is.Equal(g.mustCall(t, c, "tensor_put", uint64(p), uint64(n)), int64(hostfuncs.EQUOTA))
	is.True(strings.Contains(lastError(t, g, c), "quota"))
}

// A pointer outside guest memory traps the call instead of returning.
func TestOutOfBoundsTraps(t *testing.T) {
	is := is.New(t)
	g := newGuest(t)
	c := hostfuncs.NewCall(hostfuncs.Caller{})
	for _, tc := range []struct {
		fn   string
		args []uint64
	}{
		{"log", []uint64{1, 1 << 30, 10}},
		{"config", []uint64{math.MaxUint32 - 1, 64}},
		{"tensor_put", []uint64{16 * 65536, 8}},
		{"op", []uint64{0, 3, 0, 0, 1 << 31, 2, 0, 1}},
		{"image_decode", []uint64{0, 1 << 31, 1}},
	} {
		_, err := g.call(t, c, tc.fn, tc.args...)
		is.True(err != nil)
		is.True(strings.Contains(err.Error(), "outside guest memory"))
	}
}

// op applies engine operators to host-held tensors.
func TestOp(t *testing.T) {
	g := newGuest(t)
	c := hostfuncs.NewCall(hostfuncs.Caller{})
	a := g.put(t, c, tensor.MustFrom(tensor.Shape{2, 2}, []float32{1, 2, 3, 4}))
	b := g.put(t, c, tensor.MustFrom(tensor.Shape{2, 2}, []float32{1, 0, 0, 1}))
	run := func(op, attrs string, in ...uint64) (int64, []*tensor.Tensor) {
		p, n := g.write(t, 0, []byte(op))
		ap, an := g.write(t, 128, []byte(attrs))
		raw := make([]byte, 4*len(in))
		for i, h := range in {
			binary.LittleEndian.PutUint32(raw[4*i:], uint32(h))
		}
		ip, _ := g.write(t, 1024, raw)
		k := g.mustCall(t, c, "op", uint64(p), uint64(n), uint64(ap), uint64(an), uint64(ip), uint64(len(in)), 2048, 4)
		var outs []*tensor.Tensor
		for i := range max(0, min(k, 4)) {
			h := binary.LittleEndian.Uint32(g.read(t, 2048+4*uint32(i), 4))
			x, err := c.Resolve(h)
			if err != nil {
				t.Fatal(err)
			}
			outs = append(outs, x)
		}
		return k, outs
	}
	is := is.New(t)
	k, out := run("MatMul", "", a, b)
	is.Equal(k, int64(1))
	is.Equal(tensor.Values[float32](out[0]), []float32{1, 2, 3, 4})
	_, out = run("Add", "{}", a, a)
	is.Equal(tensor.Values[float32](out[0]), []float32{2, 4, 6, 8})
	_, out = run("Reshape", "", a, g.put(t, c, tensor.MustFrom(tensor.Shape{1}, []int64{4})))
	is.Equal([]int(out[0].Shape), []int{4})
	_, out = run("Identity", `{}`, a)
	is.Equal(tensor.Values[float32](out[0]), []float32{1, 2, 3, 4})

	cases := []struct {
		op, attrs string
		in        []uint64
		code      int32
	}{
		{"NoSuchOp", "", []uint64{a}, hostfuncs.EUNSUPPORTED},
		{"Add", "{not json", []uint64{a, a}, hostfuncs.EINVAL},
		{"Add", "", []uint64{a, 77}, hostfuncs.ENOTFOUND},
		{"MatMul", "", []uint64{a, g.put(t, c, tensor.MustNew(tensor.Float32, tensor.Shape{3, 3}))}, hostfuncs.EFAILED},
	}
	for _, cs := range cases {
		k, _ := run(cs.op, cs.attrs, cs.in...)
		is.Equal(k, int64(cs.code))
		is.True(lastError(t, g, c) != "")
	}
}

// runner is a model runner for the unit test of model_run.
type runner struct{ err error }

func (r runner) RunModel(_ context.Context, name string, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if r.err != nil {
		return nil, r.err
	}
	return []*tensor.Tensor{tensor.MustFrom(tensor.Shape{1}, []int64{int64(len(name))}), in[0]}, nil
}

func TestModelRun(t *testing.T) {
	is := is.New(t)
	g := newGuest(t)
	in := func(c *hostfuncs.Call) uint64 {
		h := g.put(t, c, tensor.MustFrom(tensor.Shape{1}, []float32{3}))
		raw := binary.LittleEndian.AppendUint32(nil, uint32(h))
		g.write(t, 1024, raw)
		g.write(t, 0, []byte("model"))
		return h
	}
	c := hostfuncs.NewCall(hostfuncs.Caller{Runner: runner{}})
	in(c)
	is.Equal(g.mustCall(t, c, "model_run", 0, 5, 1024, 1, 2048, 1), int64(2)) // two outputs, room for one
	h := binary.LittleEndian.Uint32(g.read(t, 2048, 4))
	out, err := c.Resolve(h)
	is.NoErr(err)
	is.Equal(tensor.Values[int64](out), []int64{5})

	for _, tc := range []struct {
		r    hostfuncs.ModelRunner
		code int32
	}{
		{nil, hostfuncs.EDENIED},
		{runner{fault.Errorf(fault.Forbidden, "not in calls")}, hostfuncs.EDENIED},
		{runner{fault.Errorf(fault.NotFound, "no model")}, hostfuncs.ENOTFOUND},
		{runner{fault.Errorf(fault.Invalid, "bad input")}, hostfuncs.EFAILED},
		{runner{fault.Errorf(fault.Timeout, "late")}, hostfuncs.ETIMEOUT},
	} {
		c := hostfuncs.NewCall(hostfuncs.Caller{Runner: tc.r})
		in(c)
		is.Equal(g.mustCall(t, c, "model_run", 0, 5, 1024, 1, 2048, 1), int64(tc.code))
	}
}

func TestImageFunctions(t *testing.T) {
	is := is.New(t)
	g := newGuest(t)
	c := hostfuncs.NewCall(hostfuncs.Caller{})
	png, err := os.ReadFile("../testdata/mnist/8_28x28.png")
	is.NoErr(err)
	p, n := g.write(t, 8192, png)
	h := g.mustCall(t, c, "image_decode", uint64(p), uint64(n), 1)
	is.True(h > 0)
	img, _ := c.Resolve(uint32(h))
	is.Equal([]int(img.Shape), []int{28, 28, 1})

	jpg, err := os.ReadFile("../testdata/mnist/8_28x28.jpg")
	is.NoErr(err)
	p, n = g.write(t, 8192, jpg)
	hj := g.mustCall(t, c, "image_decode", uint64(p), uint64(n), 3)
	rgb, _ := c.Resolve(uint32(hj))
	is.Equal([]int(rgb.Shape), []int{28, 28, 3})

	p, n = g.write(t, 8192, []byte("not an image"))
	is.Equal(g.mustCall(t, c, "image_decode", uint64(p), uint64(n), 1), int64(hostfuncs.EFAILED))
	is.Equal(g.mustCall(t, c, "image_decode", uint64(p), uint64(n), 2), int64(hostfuncs.EINVAL))

	hr := g.mustCall(t, c, "image_resize", uint64(h), 14, 7, hostfuncs.FilterArea)
	small, _ := c.Resolve(uint32(hr))
	is.Equal([]int(small.Shape), []int{14, 7, 1})
	is.Equal(g.mustCall(t, c, "image_resize", uint64(h), 0, 7, 0), int64(hostfuncs.EINVAL))

	mean := binary.LittleEndian.AppendUint32(nil, math.Float32bits(0.5))
	std := binary.LittleEndian.AppendUint32(nil, math.Float32bits(0.25))
	g.write(t, 100, mean)
	g.write(t, 104, std)
	hn := g.mustCall(t, c, "image_normalize", uint64(h), hostfuncs.LayoutCHW, uint64(math.Float32bits(1.0/255)), 100, 104)
	norm, _ := c.Resolve(uint32(hn))
	is.Equal(norm.DType, tensor.Float32)
	is.Equal([]int(norm.Shape), []int{1, 28, 28})
	want := (float32(img.Data[300])/255 - 0.5) / 0.25
	is.True(math.Abs(float64(tensor.Values[float32](norm)[300]-want)) <= 1e-7+1e-3*math.Abs(float64(want)))
}

// A guest that logs without end fills the log by at most the per-call cap.
func TestLogFloodIsCapped(t *testing.T) {
	is := is.New(t)
	g := newGuest(t)
	var buf strings.Builder
	c := hostfuncs.NewCall(hostfuncs.Caller{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	msg := strings.Repeat("x", 1000)
	p, n := g.write(t, 0, []byte(msg))
	for range 1000 { // 1 MB asked for
		g.mustCall(t, c, "log", 1, uint64(p), uint64(n))
	}
	is.True(buf.Len() < hostfuncs.MaxLogBytesPerCall+8<<10)
	is.Equal(strings.Count(buf.String(), "guest log limit reached"), 1)
	// Messages over 4 KiB are cut.
	c2 := hostfuncs.NewCall(hostfuncs.Caller{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	buf.Reset()
	p, n = g.write(t, 0, []byte(strings.Repeat("y", 10000)))
	g.mustCall(t, c2, "log", 1, uint64(p), uint64(n))
	is.True(strings.Contains(buf.String(), "(truncated)"))
	is.True(strings.Count(buf.String(), "y") == hostfuncs.MaxLogBytes)
}
