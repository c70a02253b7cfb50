package abi_test

// These tests run the built-in guest modules (guest/wasm, built with
// guest/sdk) in wazero and talk to them only through the host codec: they
// are the proof that the two sides of the ABI agree.

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasmgate/wasmgate/guest"
	"github.com/wasmgate/wasmgate/hostfuncs"
	"github.com/wasmgate/wasmgate/hostfuncs/abi"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// memoryLimitPages is the ABI's default memory limit (docs/ABI.md §6).
const memoryLimitPages = 1024

var wasmEnv struct {
	once     sync.Once
	err      error
	rt       wazero.Runtime
	compiled map[string]wazero.CompiledModule
}

func compiledModule(t testing.TB, name string) wazero.CompiledModule {
	t.Helper()
	e := &wasmEnv
	e.once.Do(func() {
		ctx := context.Background()
		e.rt = wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().
			WithCloseOnContextDone(true).
			WithMemoryLimitPages(memoryLimitPages))
		wasi_snapshot_preview1.MustInstantiate(ctx, e.rt)
		// The real host functions: modules use more than log now.
		if e.err = hostfuncs.Instantiate(ctx, e.rt); e.err != nil {
			return
		}
		e.compiled = map[string]wazero.CompiledModule{}
		for _, n := range guest.Names() {
			b, _ := guest.Module(n)
			c, err := e.rt.CompileModule(ctx, b)
			if err != nil {
				e.err = fmt.Errorf("compiling %s: %w", n, err)
				return
			}
			e.compiled[n] = c
		}
	})
	if e.err != nil {
		t.Fatal(e.err)
	}
	c, ok := e.compiled[name]
	if !ok {
		t.Fatalf("no built module %q (have %v)", name, guest.Names())
	}
	return c
}

type instance struct {
	mod                                   api.Module
	version, input, describe, run, output api.Function
	stderr                                bytes.Buffer
}

func newInstance(t testing.TB, name string) *instance {
	t.Helper()
	g := &instance{}
	mod, err := wasmEnv.rt.InstantiateModule(context.Background(), compiledModule(t, name),
		wazero.NewModuleConfig().WithName("").WithStartFunctions(abi.ExportInitialize).
			WithStderr(&g.stderr).WithStdout(&g.stderr))
	if err != nil {
		t.Fatalf("instantiating %s: %v", name, err)
	}
	t.Cleanup(func() { mod.Close(context.Background()) })
	g.mod = mod
	for _, f := range []struct {
		fn   *api.Function
		name string
	}{
		{&g.version, abi.ExportABIVersion}, {&g.input, abi.ExportInput}, {&g.describe, abi.ExportDescribe},
		{&g.run, abi.ExportRun}, {&g.output, abi.ExportOutput},
	} {
		if *f.fn = mod.ExportedFunction(f.name); *f.fn == nil {
			t.Fatalf("%s does not export %s", name, f.name)
		}
	}
	return g
}

func (g *instance) call1(fn api.Function, args ...uint64) (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ctx = hostfuncs.WithCall(ctx, hostfuncs.NewCall(hostfuncs.Caller{}))
	res, err := fn.Call(ctx, args...)
	if err != nil {
		return 0, fmt.Errorf("%w (guest stderr: %s)", err, g.stderr.String())
	}
	return res[0], nil
}

// readOutput copies the output out of guest memory, as the ABI requires.
func (g *instance) readOutput() ([]byte, error) {
	r, err := g.call1(g.output)
	if err != nil {
		return nil, err
	}
	ptr, n := abi.SplitOutput(r)
	view, ok := g.mod.Memory().Read(ptr, n)
	if !ok {
		return nil, fmt.Errorf("output (%d, %d) is out of bounds", ptr, n)
	}
	return bytes.Clone(view), nil
}

// runList sends an encoded list and returns the status and the output.
func (g *instance) runList(list []byte) (uint32, []byte, error) {
	p, err := g.call1(g.input, uint64(len(list)))
	if err != nil {
		return 0, nil, err
	}
	if p == 0 || p%abi.Align != 0 {
		return 0, nil, fmt.Errorf("wasmgate_input returned %d", p)
	}
	if !g.mod.Memory().Write(uint32(p), list) {
		return 0, nil, fmt.Errorf("input buffer (%d, %d) is out of bounds", p, len(list))
	}
	status, err := g.call1(g.run, p, uint64(len(list)))
	if err != nil {
		return 0, nil, err
	}
	out, err := g.readOutput()
	return uint32(status), out, err
}

// runTensors encodes ts with the host codec, runs them and decodes the
// output with the host codec when the status is OK.
func (g *instance) runTensors(t *testing.T, ts ...tensor.Named) (uint32, string, []tensor.Named) {
	t.Helper()
	list, err := abi.AppendTensorList(nil, ts)
	if err != nil {
		t.Fatal(err)
	}
	status, out, err := g.runList(list)
	if err != nil {
		t.Fatal(err)
	}
	if status != abi.StatusOK {
		return status, string(out), nil
	}
	res, err := abi.DecodeTensorList(out)
	if err != nil {
		t.Fatalf("host cannot decode the guest's output: %v", err)
	}
	return status, "", res
}

func (g *instance) description(t *testing.T) abi.Description {
	t.Helper()
	status, err := g.call1(g.describe)
	if err != nil {
		t.Fatal(err)
	}
	out, err := g.readOutput()
	if err != nil {
		t.Fatal(err)
	}
	if status != abi.StatusOK {
		t.Fatalf("describe: status %d: %s", status, out)
	}
	d, err := abi.DecodeDescription(out)
	if err != nil {
		t.Fatalf("host cannot decode the description %s: %v", out, err)
	}
	return d
}

func TestGuestDescriptions(t *testing.T) {
	docDesc, err := abi.DecodeDescription([]byte(docExample))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		module string
		want   abi.Description
	}{
		{"mnistpre", docDesc},
		{"mnistpost", abi.Description{ABI: 1, Name: "mnist-post",
			Inputs: []abi.TensorSpec{{Name: "logits", DType: tensor.Float32, Shape: []int64{1, 10}}},
			Outputs: []abi.TensorSpec{
				{Name: "label", DType: tensor.Int64, Shape: []int64{1}},
				{Name: "probabilities", DType: tensor.Float32, Shape: []int64{1, 10}},
			}}},
		{"mnistadapter", abi.Description{ABI: 1, Name: "mnist-adapter",
			Inputs: docDesc.Inputs,
			Outputs: []abi.TensorSpec{
				{Name: "label", DType: tensor.Int64, Shape: []int64{1}},
				{Name: "probabilities", DType: tensor.Float32, Shape: []int64{1, 10}},
			}}},
		// The text modules (guest/modules/bertpre, gpt2pre, meanpool).
		{"bertpre", abi.Description{ABI: 1, Name: "bert-pre",
			Inputs: []abi.TensorSpec{
				{Name: "text", DType: tensor.Bytes, Shape: []int64{1}},
				{Name: "text_pair", DType: tensor.Bytes, Shape: []int64{1}, Optional: true},
			},
			Outputs: []abi.TensorSpec{
				{Name: "input_ids", DType: tensor.Int64, Shape: []int64{1, -1}},
				{Name: "attention_mask", DType: tensor.Int64, Shape: []int64{1, -1}},
				{Name: "token_type_ids", DType: tensor.Int64, Shape: []int64{1, -1}},
			}}},
		{"gpt2pre", abi.Description{ABI: 1, Name: "gpt2-pre",
			Inputs:  []abi.TensorSpec{{Name: "text", DType: tensor.Bytes, Shape: []int64{1}}},
			Outputs: []abi.TensorSpec{{Name: "input_ids", DType: tensor.Int64, Shape: []int64{1, -1}}}}},
		{"meanpool", abi.Description{ABI: 1, Name: "mean-pool",
			Inputs:  []abi.TensorSpec{{Name: "last_hidden_state", DType: tensor.Float32, Shape: []int64{1, -1, -1}}},
			Outputs: []abi.TensorSpec{{Name: "embedding", DType: tensor.Float32, Shape: []int64{1, -1}}}}},
	}
	for _, tc := range tests {
		t.Run(tc.module, func(t *testing.T) {
			is := is.New(t)
			g := newInstance(t, tc.module)
			v, err := g.call1(g.version)
			is.NoErr(err)
			is.Equal(v, uint64(abi.Version))
			is.Equal(g.description(t), tc.want)
		})
	}
	is := is.New(t)
	is.Equal(guest.Names(), []string{"bertpre", "gpt2pre", "meanpool", "mnistadapter", "mnistpost", "mnistpre"}) // every built module is covered here
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "mnist", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func imageTensor(b []byte) tensor.Named {
	return named("image", mustStrings(tensor.Shape{1}, [][]byte{b}))
}

func pngOf(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestGuestMnistPre(t *testing.T) {
	pngBytes := readTestdata(t, "8_28x28.png")
	img, err := png.Decode(bytes.NewReader(pngBytes))
	if err != nil {
		t.Fatal(err)
	}
	gray := img.(*image.Gray)
	want := make([]float32, 28*28)
	for i, v := range gray.Pix {
		want[i] = float32(v)
	}
	pixels := func(v []float32) tensor.Named {
		return named("pixels", tensor.MustFrom(tensor.Shape{1, 1, 28, 28}, v))
	}
	withNaN := append([]float32(nil), want...)
	withNaN[100] = float32(math.NaN())

	// A large, compressible image near the size limit exercises the
	// decoder within the instance's memory limit.
	// 4,088 = 28·146, so area averaging gives back the digit exactly.
	const bigSide = 28 * 146
	big := image.NewGray(image.Rect(0, 0, bigSide, bigSide))
	for y := range bigSide {
		for x := range bigSide {
			big.Pix[y*bigSide+x] = gray.Pix[(y/146)*28+x/146]
		}
	}
	bigPNG := pngOf(t, big)

	tests := []struct {
		name   string
		in     []tensor.Named
		status uint32
		want   string  // message substring when the status is not OK
		tol    float32 // largest allowed pixel difference when OK
	}{
		{"PNG", []tensor.Named{imageTensor(pngBytes)}, abi.StatusOK, "", 0},
		{"JPEG", []tensor.Named{imageTensor(readTestdata(t, "8_28x28.jpg"))}, abi.StatusOK, "", 16},
		{"pixels", []tensor.Named{pixels(want)}, abi.StatusOK, "", 0},
		{"4088x4088 PNG", []tensor.Named{imageTensor(bigPNG)}, abi.StatusOK, "", 0},
		{"garbage", []tensor.Named{imageTensor([]byte("\x00\x01garbage, not an image"))}, abi.StatusInvalid, "image: not a PNG or JPEG image", 0},
		{"truncated PNG", []tensor.Named{imageTensor(pngBytes[:len(pngBytes)/2])}, abi.StatusInvalid, "image: corrupt PNG", 0},
		{"too large", []tensor.Named{imageTensor(pngOf(t, image.NewGray(image.Rect(0, 0, 4097, 2))))}, abi.StatusInvalid, "4097×2 pixels is larger than the limit", 0},
		{"both", []tensor.Named{imageTensor(pngBytes), pixels(want)}, abi.StatusInvalid, "not both", 0},
		{"neither", nil, abi.StatusInvalid, `give one of "image"`, 0},
		{"NaN pixel", []tensor.Named{pixels(withNaN)}, abi.StatusInvalid, "pixels: element 100 is NaN", 0},
		{"unknown input", []tensor.Named{named("img", mustStrings(tensor.Shape{1}, [][]byte{pngBytes}))}, abi.StatusInvalid, `unknown input "img"`, 0},
		{"wrong dtype", []tensor.Named{named("pixels", tensor.MustNew(tensor.Float64, tensor.Shape{1, 1, 28, 28}))}, abi.StatusInvalid, "datatype is FP64, want FP32", 0},
		{"PNG again", []tensor.Named{imageTensor(pngBytes)}, abi.StatusOK, "", 0},
	}
	// One instance for all cases: instances are reused between calls, and
	// a failed call must not spoil the next.
	g := newInstance(t, "mnistpre")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			status, msg, out := g.runTensors(t, tc.in...)
			is.Equal(status, tc.status)
			if status != abi.StatusOK {
				if !strings.Contains(msg, tc.want) {
					t.Fatalf("message %q does not contain %q", msg, tc.want)
				}
				return
			}
			is.Equal(len(out), 1)
			is.Equal(out[0].Name, "input")
			is.Equal(out[0].DType, tensor.Float32)
			is.True(out[0].Shape.Equal(tensor.Shape{1, 1, 28, 28}))
			got := tensor.Values[float32](out[0].Tensor)
			var worst float32
			for i := range got {
				worst = max(worst, float32(math.Abs(float64(got[i]-want[i]))))
			}
			if worst > tc.tol {
				t.Fatalf("largest pixel difference %v exceeds %v", worst, tc.tol)
			}
			t.Logf("largest pixel difference %v; memory %d pages", worst, g.mod.Memory().Size()/65536)
		})
	}
}

func TestGuestMnistPost(t *testing.T) {
	tests := []struct {
		name   string
		logits []float32
		label  int64
	}{
		{"clear winner", []float32{-2.1, 0.4, 1.3, 9.7, -0.2, 2.2, -4, 0.9, 3.3, 1.1}, 3},
		{"close call", []float32{0, 0, 0, 0, 0, 0, 0, 1e-3, 0, 0}, 7},
		{"large magnitudes", []float32{-500, 800, 790, 0, 0, 0, 0, 0, 0, 805}, 9},
		{"uniform", make([]float32, 10), 0},
	}
	g := newInstance(t, "mnistpost")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			status, msg, out := g.runTensors(t, named("logits", tensor.MustFrom(tensor.Shape{1, 10}, tc.logits)))
			is.Equal(msg, "")
			is.Equal(status, uint32(abi.StatusOK))
			is.Equal(len(out), 2)
			is.Equal(out[0].Name, "label")
			is.True(out[0].Shape.Equal(tensor.Shape{1}))
			is.Equal(tensor.Values[int64](out[0].Tensor), []int64{tc.label})
			is.Equal(out[1].Name, "probabilities")
			is.True(out[1].Shape.Equal(tensor.Shape{1, 10}))
			got := tensor.Values[float32](out[1].Tensor)
			want := softmax64(tc.logits)
			for i := range want {
				if d := math.Abs(float64(got[i]) - want[i]); !(d <= 1e-7+1e-3*math.Abs(want[i])) {
					t.Errorf("p[%d] = %v, want %v", i, got[i], want[i])
				}
			}
		})
	}
	t.Run("non-finite", func(t *testing.T) {
		is := is.New(t)
		logits := make([]float32, 10)
		logits[2] = float32(math.Inf(-1))
		status, msg, _ := g.runTensors(t, named("logits", tensor.MustFrom(tensor.Shape{1, 10}, logits)))
		is.Equal(status, uint32(abi.StatusFailed))
		is.True(strings.Contains(msg, "logit 2 is -Inf"))
	})
}

func softmax64(x []float32) []float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, float64(v))
	}
	out := make([]float64, len(x))
	var s float64
	for i, v := range x {
		out[i] = math.Exp(float64(v) - m)
		s += out[i]
	}
	for i := range out {
		out[i] /= s
	}
	return out
}

// TestGuestContract covers the ABI edges the SDK enforces itself.
func TestGuestContract(t *testing.T) {
	is := is.New(t)
	g := newInstance(t, "mnistpost")

	p, err := g.call1(g.input, 1<<31)
	is.NoErr(err)
	is.Equal(p, uint64(0)) // no buffer this large

	status, out, err := g.runList([]byte("WGTL\x05\x00\x00\x00 not a list"))
	is.NoErr(err)
	is.Equal(status, uint32(abi.StatusFailed))
	is.True(strings.Contains(string(out), "malformed input list"))

	// A run pointing outside the buffer wasmgate_input returned.
	p, err = g.call1(g.input, 64)
	is.NoErr(err)
	s, err := g.call1(g.run, p+8, 64)
	is.NoErr(err)
	is.Equal(s, uint64(abi.StatusFailed))
	out, err = g.readOutput()
	is.NoErr(err)
	is.True(strings.Contains(string(out), "not within the buffer"))

	// An empty input list is valid; the stage's own checks answer.
	empty, err := abi.AppendTensorList(nil, nil)
	is.NoErr(err)
	status, out, err = g.runList(empty)
	is.NoErr(err)
	is.Equal(status, uint32(abi.StatusInvalid))
	is.Equal(string(out), `missing input "logits"`)

	// The instance still works after all that.
	st, msg, _ := g.runTensors(t, named("logits", tensor.MustNew(tensor.Float32, tensor.Shape{1, 10})))
	is.Equal(msg, "")
	is.Equal(st, uint32(abi.StatusOK))
}

// TestGuestMemoryBounded makes 100,000 calls on one instance: if the guest's
// garbage collector did not run between calls (the SDK's exports must yield),
// its linear memory would grow with every call until it hit the limit.
func TestGuestMemoryBounded(t *testing.T) {
	is := is.New(t)
	const calls = 100_000
	g := newInstance(t, "mnistpost")
	list, err := abi.AppendTensorList(nil, []tensor.Named{
		named("logits", tensor.MustFrom(tensor.Shape{1, 10}, []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10})),
	})
	is.NoErr(err)
	pages := func() uint32 { return g.mod.Memory().Size() / 65536 }
	start := pages()
	var warm, mid uint32
	begin := time.Now()
	for i := range calls {
		status, out, err := g.runList(list)
		if err != nil || status != abi.StatusOK {
			t.Fatalf("call %d: status %d, %v: %s", i, status, err, out)
		}
		if i == 999 {
			warm = pages()
		}
		if i == calls/2-1 {
			mid = pages()
		}
	}
	end := pages()
	t.Logf("mnistpost: %d calls in %v; linear memory %d pages after instantiation, %d after 1,000 calls, %d after %d, %d after %d",
		calls, time.Since(begin).Round(time.Millisecond), start, warm, mid, calls/2, end, calls)
	// The heap settles within the first few thousand calls (the GC's goal
	// has a floor of 4 MiB); after that it must not grow at all.
	is.True(end <= mid)
	is.True(end <= 256) // 16 MiB: far below what 100,000 calls' garbage would need
}

// BenchmarkGuestCall measures one whole call as a pool would make it:
// wasmgate_input, a write, wasmgate_run, wasmgate_output and a copy, with
// the runtime configured as in production (close on context done).
func BenchmarkGuestCall(b *testing.B) {
	g := newInstance(b, "mnistpost")
	list, err := abi.AppendTensorList(nil, []tensor.Named{
		named("logits", tensor.MustFrom(tensor.Shape{1, 10}, []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10})),
	})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if status, out, err := g.runList(list); err != nil || status != abi.StatusOK {
			b.Fatalf("status %d, %v: %s", status, err, out)
		}
	}
}

// TestGuestLargeImages sends a run of large, incompressible images to one
// instance of mnistpre: each must be decoded or refused with status 1, and
// none may leave the instance out of memory (the Go runtime throws instead of
// collecting when linear memory cannot grow).
func TestGuestLargeImages(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("encodes and decodes several 16 MB images")
	}
	r := rand.New(rand.NewPCG(1, 2))
	grayNoise := func(side int) []byte {
		m := image.NewGray(image.Rect(0, 0, side, side))
		for i := range m.Pix {
			m.Pix[i] = uint8(r.Uint32())
		}
		return pngOf(t, m)
	}
	rgbaNoise := func(side int) []byte {
		m := image.NewNRGBA(image.Rect(0, 0, side, side))
		for i := range m.Pix {
			m.Pix[i] = uint8(r.Uint32())
		}
		return pngOf(t, m)
	}
	gray4096, rgba2048, rgba2000 := grayNoise(4096), rgbaNoise(2048), rgbaNoise(2000)
	tests := []struct {
		name   string
		png    []byte
		status uint32
	}{
		{"4096² gray", gray4096, abi.StatusOK},
		{"4096² gray again", gray4096, abi.StatusOK},
		{"2048² RGBA", rgba2048, abi.StatusOK},
		{"2400² RGBA", rgbaNoise(2400), abi.StatusInvalid}, // 22 MiB of pixels; its 22 MiB of PNG still grows memory
		{"4096² gray after", gray4096, abi.StatusOK},
		{"2000² RGBA", rgba2000, abi.StatusOK},
		{"2100² RGBA", rgbaNoise(2100), abi.StatusInvalid}, // 16.8 MiB of pixels
		{"2048² RGBA again", rgba2048, abi.StatusOK},
		{"4096² gray last", gray4096, abi.StatusOK},
		{"28² digit", readTestdata(t, "8_28x28.png"), abi.StatusOK},
	}
	g := newInstance(t, "mnistpre")
	for _, tc := range tests {
		status, msg, _ := g.runTensors(t, imageTensor(tc.png))
		t.Logf("%s: %d bytes of PNG, status %d %s; memory %d pages", tc.name, len(tc.png), status, msg, g.mod.Memory().Size()/65536)
		if status != tc.status {
			t.Fatalf("%s: status %d, want %d: %s", tc.name, status, tc.status, msg)
		}
	}
}
