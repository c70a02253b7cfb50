package wasinn

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"unicode/utf8"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/hostfuncs/abi"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/exec"
	enginegraph "github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/onnx"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/ops"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// ModuleName is the import module of the wasi-nn functions.
const ModuleName = "wasi_ephemeral_nn"

// nnFunc is one function of the module. Every parameter and the result are
// i32; the result is an Errno.
type nnFunc struct {
	name   string
	params []string
	impl   func(ctx context.Context, c call, s *state, mem api.Memory, a []uint64) error
}

var nnFuncs = []nnFunc{
	{"load", []string{"builder_array_ptr", "builder_array_len", "encoding", "target", "graph_ptr"}, load},
	{"load_by_name", []string{"name_ptr", "name_len", "graph_ptr"}, loadByName},
	{"load_by_name_with_config", []string{"name_ptr", "name_len", "config_ptr", "config_len", "graph_ptr"}, loadByNameWithConfig},
	{"init_execution_context", []string{"graph", "context_ptr"}, initExecutionContext},
	{"set_input", []string{"context", "index", "tensor_ptr"}, setInput},
	{"compute", []string{"context"}, compute},
	{"get_output", []string{"context", "index", "out_buffer_ptr", "out_buffer_max_size", "bytes_written_ptr"}, getOutput},
	{"unload", []string{"graph"}, unload},
}

// Names lists the functions of the module, which a guest may import.
func Names() []string {
	names := make([]string, len(nnFuncs))
	for i, f := range nnFuncs {
		names[i] = f.name
	}
	return names
}

// Instantiate defines the "wasi_ephemeral_nn" host module in r. It must run
// before any guest that imports it is instantiated.
func Instantiate(ctx context.Context, r wazero.Runtime) error {
	b := r.NewHostModuleBuilder(ModuleName)
	for _, f := range nnFuncs {
		params := make([]api.ValueType, len(f.params))
		for i := range params {
			params[i] = api.ValueTypeI32
		}
		b.NewFunctionBuilder().
			WithGoModuleFunction(hostFunc(f), params, []api.ValueType{api.ValueTypeI32}).
			WithParameterNames(f.params...).
			WithResultNames("errno").
			Export(f.name)
	}
	if _, err := b.Instantiate(ctx); err != nil {
		return fmt.Errorf("instantiate host module %q: %w", ModuleName, err)
	}
	return nil
}

// hostFunc adapts f to wazero: it finds the caller's memory and state,
// runs f and returns its errno, logging failures at debug level.
func hostFunc(f nnFunc) api.GoModuleFunc {
	return func(ctx context.Context, m api.Module, stack []uint64) {
		c, inst := callFrom(ctx)
		var err error
		if mem := m.Memory(); noMemory(mem) {
			err = &nnError{MissingMemory, errNoMemory}
		} else {
			err = f.impl(ctx, c, inst, mem, stack)
		}
		e := errnoOf(err)
		if e != Success {
			c.Logger.Debug("wasi-nn call failed", "func", f.name, "errno", e.String(), "err", err,
				"module", c.Module, "model", c.Model, "tenant", c.Tenant, "source", "guest")
		}
		stack[0] = uint64(e)
	}
}

// noMemory reports whether a module has no memory: wazero returns a typed
// nil then.
func noMemory(mem api.Memory) bool {
	if mem == nil {
		return true
	}
	v := reflect.ValueOf(mem)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// nnError is an error with its wasi-nn errno.
type nnError struct {
	errno Errno
	err   error
}

func (e *nnError) Error() string { return e.err.Error() }
func (e *nnError) Unwrap() error { return e.err }

func errf(e Errno, format string, a ...any) error { return &nnError{e, fmt.Errorf(format, a...)} }

// errnoOf maps an error to its errno: its own, or by its fault kind.
func errnoOf(err error) Errno {
	if err == nil {
		return Success
	}
	var ne *nnError
	if errors.As(err, &ne) {
		return ne.errno
	}
	switch fault.KindOf(err) {
	case fault.Invalid:
		return InvalidArgument
	case fault.NotFound, fault.Forbidden:
		// A model the caller may not run does not exist as far as the
		// guest is concerned; the server log says why.
		return NotFound
	case fault.TooLarge:
		return TooLarge
	case fault.Unsupported:
		return UnsupportedOperation
	case fault.Overloaded, fault.Unavailable:
		return Busy
	}
	return RuntimeError
}

// ---- guest memory ----

func u32(v uint64) uint32 { return uint32(v) }

// view returns guest memory [ptr, ptr+n), valid until the function returns.
func view(mem api.Memory, ptr, n uint32, what string) ([]byte, error) {
	b, ok := mem.Read(ptr, n)
	if !ok {
		return nil, errf(InvalidArgument, "%s at %#x, %d bytes, is outside guest memory (%d bytes)", what, ptr, n, mem.Size())
	}
	return b, nil
}

// putU32 writes an out-parameter; the caller checked it with view first.
func putU32(mem api.Memory, ptr, v uint32, what string) error {
	if !mem.WriteUint32Le(ptr, v) {
		return errf(InvalidArgument, "%s at %#x is outside guest memory", what, ptr)
	}
	return nil
}

// ---- graphs ----

// runFunc runs a graph on inputs bound by position (nil: not set).
type runFunc func(ctx context.Context, c call, in []*tensor.Tensor) ([]*tensor.Tensor, error)

func load(_ context.Context, c call, s *state, mem api.Memory, a []uint64) error {
	arr, n, enc, target, out := u32(a[0]), u32(a[1]), u32(a[2]), u32(a[3]), u32(a[4])
	if enc != EncodingONNX && enc != EncodingAutodetect {
		return errf(InvalidEncoding, "graph encoding %d is not available: wasmgate loads onnx (%d) and autodetect (%d)", enc, EncodingONNX, EncodingAutodetect)
	}
	switch target {
	case TargetCPU, TargetAuto:
	case TargetGPU, TargetTPU:
		return errf(UnsupportedOperation, "execution target %d: wasmgate runs graphs on the CPU (%d) only", target, TargetCPU)
	default:
		return errf(InvalidArgument, "execution target %d is not one of cpu (0), gpu (1), tpu (2), auto (3)", target)
	}
	if n != 1 {
		return errf(InvalidArgument, "an ONNX graph is one builder (the .onnx file); got %d", n)
	}
	pair, err := view(mem, arr, 8, "graph_builder_array")
	if err != nil {
		return err
	}
	ptr, size := binary.LittleEndian.Uint32(pair), binary.LittleEndian.Uint32(pair[4:])
	if _, err := view(mem, out, 4, "graph out-pointer"); err != nil {
		return err
	}
	s.mu.Lock()
	room := c.QuotaBytes - s.used
	s.mu.Unlock()
	if int64(size) > room {
		return errf(TooLarge, "a graph of %d bytes does not fit the %d bytes left of the host memory quota of %d", size, max(room, 0), c.QuotaBytes)
	}
	b, err := view(mem, ptr, size, "graph builder 0")
	if err != nil {
		return err
	}
	b = bytes.Clone(b) // the model may keep slices of it
	m, err := onnx.ReadModel(b)
	if err != nil {
		if enc == EncodingAutodetect && fault.KindOf(err) == fault.Invalid {
			return &nnError{InvalidEncoding, fmt.Errorf("autodetect: not an ONNX model: %w", err)}
		}
		return err
	}
	// Folding the guest's constants must fit the quota too.
	plan, err := exec.Compile(m, exec.WithMaxIdleStates(1), exec.WithFoldBudget(max(room-int64(size), 1)))
	if err != nil {
		return err
	}
	g := &graph{
		name: "onnx graph", known: true,
		inputs: specsOfInfo(plan.InputInfo()), outputs: specsOfInfo(plan.OutputInfo()),
		charge:  max(int64(len(b)), plan.WeightsBytes()) + plan.WorkingBytes(),
		working: plan.WorkingBytes(),
		bounded: true,
		run:     planRunner(plan),
	}
	h, err := s.addGraph(g, c.QuotaBytes)
	if err != nil {
		return err
	}
	return putU32(mem, out, h, "graph out-pointer")
}

func specsOfInfo(vis []enginegraph.ValueInfo) []spec {
	specs := make([]spec, len(vis))
	for i, v := range vis {
		dims := make([]int64, len(v.Dims))
		for j, d := range v.Dims {
			dims[j] = d.Size // -1 when not fixed
		}
		specs[i] = spec{name: v.Name, dtype: v.DType, dims: dims, unknownRank: v.UnknownRank}
	}
	return specs
}

func specsOfABI(ts []abi.TensorSpec) []spec {
	specs := make([]spec, len(ts))
	for i, t := range ts {
		specs[i] = spec{name: t.Name, dtype: t.DType, dims: t.Shape, optional: t.Optional}
	}
	return specs
}

// planRunner runs an engine plan: every input is required.
func planRunner(plan *exec.Plan) runFunc {
	infos := plan.InputInfo()
	return func(ctx context.Context, _ call, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		named := make([]tensor.Named, len(infos))
		for i, info := range infos {
			if i >= len(in) || in[i] == nil {
				return nil, errf(InvalidArgument, "input %d (%q) is not set", i, info.Name)
			}
			named[i] = tensor.Named{Name: info.Name, Tensor: in[i]}
		}
		outs, err := plan.Run(ctx, named)
		if err != nil {
			return nil, err
		}
		res := make([]*tensor.Tensor, len(outs))
		for i, o := range outs {
			res[i] = o.Tensor
		}
		return res, nil
	}
}

// modelRunner runs a repository model through the call's runner: the
// runner of the call that computes, which checks the name again.
func modelRunner(name string) runFunc {
	return func(ctx context.Context, c call, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if c.Runner == nil {
			return nil, errf(NotFound, "model %q: this module may not run models", name)
		}
		for len(in) > 0 && in[len(in)-1] == nil {
			in = in[:len(in)-1] // inputs after the last one set are left out
		}
		return c.Runner.RunModel(ctx, name, in)
	}
}

func loadByName(ctx context.Context, c call, s *state, mem api.Memory, a []uint64) error {
	return loadNamed(ctx, c, s, mem, u32(a[0]), u32(a[1]), u32(a[2]))
}

// loadByNameWithConfig is WasmEdge's extension: the config is JSON text
// (an object, or empty). wasmgate knows none of its members and ignores them.
func loadByNameWithConfig(ctx context.Context, c call, s *state, mem api.Memory, a []uint64) error {
	cptr, clen := u32(a[2]), u32(a[3])
	if clen > MaxConfigBytes {
		return errf(InvalidArgument, "config of %d bytes exceeds the limit of %d", clen, MaxConfigBytes)
	}
	cfg, err := view(mem, cptr, clen, "config")
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(cfg)) > 0 {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(cfg, &obj); err != nil || obj == nil {
			return errf(InvalidArgument, "config is not a JSON object")
		}
	}
	return loadNamed(ctx, c, s, mem, u32(a[0]), u32(a[1]), u32(a[4]))
}

func loadNamed(ctx context.Context, c call, s *state, mem api.Memory, nptr, nlen, out uint32) error {
	if nlen == 0 || nlen > MaxNameBytes {
		return errf(InvalidArgument, "a model name is 1 to %d bytes; got %d", MaxNameBytes, nlen)
	}
	b, err := view(mem, nptr, nlen, "model name")
	if err != nil {
		return err
	}
	if !utf8.Valid(b) {
		return errf(InvalidArgument, "model name %q is not UTF-8", b)
	}
	name := string(b)
	if _, err := view(mem, out, 4, "graph out-pointer"); err != nil {
		return err
	}
	if c.Runner == nil {
		return errf(NotFound, "model %q: this module may not run models", name)
	}
	g := &graph{name: name, run: modelRunner(name)}
	if d, ok := c.Runner.(ModelDescriber); ok {
		ins, outs, err := d.DescribeModel(ctx, name)
		if err != nil {
			return err
		}
		g.known, g.inputs, g.outputs = true, specsOfABI(ins), specsOfABI(outs)
	}
	h, err := s.addGraph(g, c.QuotaBytes)
	if err != nil {
		return err
	}
	return putU32(mem, out, h, "graph out-pointer")
}

func unload(_ context.Context, _ call, s *state, _ api.Memory, a []uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unload(u32(a[0]))
}

// ---- execution contexts ----

func initExecutionContext(_ context.Context, _ call, s *state, mem api.Memory, a []uint64) error {
	gh, out := u32(a[0]), u32(a[1])
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.graph(gh)
	if err != nil {
		return err
	}
	if _, err := view(mem, out, 4, "context out-pointer"); err != nil {
		return err
	}
	switch {
	case len(s.ctxs) >= MaxContexts:
		return errf(Busy, "%d execution contexts are live, the most an instance may hold; unload a graph first", MaxContexts)
	case s.nextC == ^uint32(0):
		return errf(Busy, "execution context handles are exhausted")
	}
	n := 0
	if g.known {
		n = len(g.inputs)
	}
	h := s.nextC
	s.nextC++
	s.ctxs[h] = &execCtx{g: g, gh: gh, inputs: make([]*tensor.Tensor, n), inCharge: make([]int64, n)}
	return putU32(mem, out, h, "context out-pointer")
}

// tensorBytes is the size of the witx tensor record in guest memory:
// dims ptr, dims len, type (a u8 tag, padded; WasmEdge reads a u32), data
// ptr, data len.
const tensorBytes = 20

func setInput(_ context.Context, c call, s *state, mem api.Memory, a []uint64) error {
	ch, index, tptr := u32(a[0]), u32(a[1]), u32(a[2])
	s.mu.Lock()
	defer s.mu.Unlock()
	ec, err := s.execCtx(ch)
	if err != nil {
		return err
	}
	rec, err := view(mem, tptr, tensorBytes, "tensor")
	if err != nil {
		return err
	}
	dimsPtr, rank := binary.LittleEndian.Uint32(rec), binary.LittleEndian.Uint32(rec[4:])
	code := rec[8] // the u8 tag; writers of a u32 put the same value here
	dataPtr, dataLen := binary.LittleEndian.Uint32(rec[12:]), binary.LittleEndian.Uint32(rec[16:])
	numbering, err := c.numbering()
	if err != nil {
		return errf(InvalidArgument, "the module's config selects no tensor_type numbering: %v", err)
	}
	dt, ok := numbering.DType(code)
	if !ok {
		return errf(InvalidArgument, "tensor_type %d is not a type of the %s numbering", code, numbering)
	}
	if rank > tensor.MaxRank {
		return errf(InvalidArgument, "tensor of rank %d; the most is %d", rank, tensor.MaxRank)
	}
	rawDims, err := view(mem, dimsPtr, 4*rank, "tensor dimensions")
	if err != nil {
		return err
	}
	shape := make(tensor.Shape, rank)
	for i := range shape {
		d := binary.LittleEndian.Uint32(rawDims[4*i:])
		if d > tensor.MaxElements {
			return errf(InvalidArgument, "tensor dimension %d is %d; the most is %d", i, d, tensor.MaxElements)
		}
		shape[i] = int(d)
	}
	elems, err := shape.NumElements()
	if err != nil {
		return errf(InvalidArgument, "tensor: %v", err)
	}
	if want := int64(elems) * int64(dt.Size()); int64(dataLen) != want {
		return errf(InvalidArgument, "tensor of %v%v needs %d data bytes, got %d", dt, []int(shape), want, dataLen)
	}
	if err := checkInput(ec, index, dt, shape); err != nil {
		return err
	}
	data, err := view(mem, dataPtr, dataLen, "tensor data")
	if err != nil {
		return err
	}
	for int(index) >= len(ec.inputs) { // inputs not known: grow to index
		ec.inputs, ec.inCharge = append(ec.inputs, nil), append(ec.inCharge, 0)
	}
	if room := c.QuotaBytes - (s.used - ec.inCharge[index]); int64(dataLen) > room {
		return errf(TooLarge, "an input of %d bytes does not fit the %d bytes left of the host memory quota of %d", dataLen, max(room, 0), c.QuotaBytes)
	}
	t := &tensor.Tensor{DType: dt, Shape: shape, Data: tensor.AlignedBytes(int(dataLen))}
	copy(t.Data, data)
	s.used += int64(dataLen) - ec.inCharge[index]
	ec.inputs[index], ec.inCharge[index] = t, int64(dataLen)
	return nil
}

// checkInput checks a tensor set as input index against the graph's
// declaration, when it has one.
func checkInput(ec *execCtx, index uint32, dt tensor.DType, shape tensor.Shape) error {
	if !ec.g.known {
		if index >= MaxInputs {
			return errf(InvalidArgument, "input index %d; the most is %d", index, MaxInputs-1)
		}
		return nil
	}
	if int(index) >= len(ec.g.inputs) {
		return errf(InvalidArgument, "input index %d: %s has %d inputs", index, ec.g.name, len(ec.g.inputs))
	}
	sp := ec.g.inputs[index]
	if dt != sp.dtype {
		return errf(InvalidArgument, "input %d (%q) is %v, got %v", index, sp.name, sp.dtype, dt)
	}
	if sp.unknownRank {
		return nil
	}
	ok := len(shape) == len(sp.dims)
	for i := 0; ok && i < len(shape); i++ {
		ok = sp.dims[i] < 0 || sp.dims[i] == int64(shape[i])
	}
	if !ok {
		return errf(InvalidArgument, "input %d (%q) has shape %v, got %v", index, sp.name, sp.dims, []int(shape))
	}
	return nil
}

func compute(ctx context.Context, c call, s *state, _ api.Memory, a []uint64) error {
	ch := u32(a[0])
	s.mu.Lock()
	ec, err := s.execCtx(ch)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	s.dropOutputs(ec)
	g, in := ec.g, append([]*tensor.Tensor(nil), ec.inputs...)
	room := c.QuotaBytes - s.used
	s.mu.Unlock()
	if g.bounded {
		// A guest's graph may not allocate past the quota while it runs;
		// its run buffers are already charged at load.
		ctx = ops.WithAllocBudget(ctx, ops.NewAllocBudget(max(room, 0)+g.working))
	}
	if g.known {
		for i, sp := range g.inputs {
			if !sp.optional && (i >= len(in) || in[i] == nil) {
				return errf(InvalidArgument, "input %d (%q) of %s is not set", i, sp.name, g.name)
			}
		}
	}
	outs, err := g.run(ctx, c, in)
	if err != nil {
		return err
	}
	var n int64
	for _, t := range outs {
		if t == nil {
			return errf(RuntimeError, "%s returned no tensor for an output", g.name)
		}
		n += int64(t.ByteSize())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctxs[ch] != ec { // unloaded meanwhile
		return errf(InvalidArgument, "execution context %d ended during compute", ch)
	}
	if room := c.QuotaBytes - s.used; n > room {
		return errf(TooLarge, "outputs of %d bytes do not fit the %d bytes left of the host memory quota of %d", n, max(room, 0), c.QuotaBytes)
	}
	ec.outputs, ec.outBytes = outs, n
	s.used += n
	return nil
}

func getOutput(_ context.Context, _ call, s *state, mem api.Memory, a []uint64) error {
	ch, index, ptr, size, written := u32(a[0]), u32(a[1]), u32(a[2]), u32(a[3]), u32(a[4])
	s.mu.Lock()
	defer s.mu.Unlock()
	ec, err := s.execCtx(ch)
	if err != nil {
		return err
	}
	if ec.outputs == nil {
		return errf(InvalidArgument, "execution context %d has no outputs: compute has not succeeded", ch)
	}
	if int(index) >= len(ec.outputs) {
		return errf(InvalidArgument, "output index %d: %s has %d outputs", index, ec.g.name, len(ec.outputs))
	}
	buf, err := view(mem, ptr, size, "output buffer")
	if err != nil {
		return err
	}
	if _, err := view(mem, written, 4, "bytes_written out-pointer"); err != nil {
		return err
	}
	t := ec.outputs[index]
	if t.DType == tensor.Bytes {
		return errf(UnsupportedOperation, "output %d is a BYTES tensor, which wasi-nn cannot express", index)
	}
	if len(t.Data) > len(buf) {
		return errf(TooLarge, "output %d is %d bytes; the buffer holds %d", index, len(t.Data), len(buf))
	}
	copy(buf, t.Data)
	return putU32(mem, written, uint32(len(t.Data)), "bytes_written out-pointer")
}
