package modelgen

import (
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// Dynamic as a batch argument makes the batch dimension symbolic.
const Dynamic = 0

// BatchDim is the name of the symbolic batch dimension.
const BatchDim = "batch_size"

// Opset and IRVersion are what generated models declare: the default
// opset of the PyTorch 2 TorchScript exporter and the IR version it writes
// with it.
const (
	Opset     = 17
	IRVersion = 8
)

// Producer is the producer_name of generated models.
const Producer = "wasmgate-modelgen"

// batchDim is the declared batch dimension for a batch argument.
func batchDim(batch int) graph.Dim {
	if batch > 0 {
		return graph.FixedDim(int64(batch))
	}
	return graph.SymbolicDim(BatchDim)
}

// rng is a seeded generator whose output does not depend on the Go
// release: PCG-DXSM (as math/rand/v2 specifies it) with the conversion to
// floats done here.
type rng struct{ pcg *rand.PCG }

func newRNG(seed uint64) *rng { return &rng{rand.NewPCG(seed, 0x6d6f64656c67656e)} }

// unit returns a float32 uniform in [0, 1).
func (r *rng) unit() float32 { return float32(r.pcg.Uint64()>>40) / (1 << 24) }

// uniform fills n float32 values uniform in [-bound, bound).
func (r *rng) uniform(n int, bound float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = (2*r.unit() - 1) * bound
	}
	return v
}

// intn returns an integer uniform in [0, n).
func (r *rng) intn(n int64) int64 { return int64(r.pcg.Uint64() % uint64(n)) }

// builder appends nodes and initializers to a graph, naming values the way
// the PyTorch exporter does ("/scope/Op_output_0").
type builder struct {
	g   *graph.Graph
	rng *rng
	// uses counts node names per scope and op type, for the exporter's
	// "_1", "_2" suffixes.
	uses map[string]int
}

func newBuilder(name string, seed uint64) *builder {
	return &builder{
		g:    &graph.Graph{Name: name, Initializers: map[string]*tensor.Tensor{}},
		rng:  newRNG(seed),
		uses: map[string]int{},
	}
}

func (b *builder) model() *graph.Model {
	return &graph.Model{IRVersion: IRVersion, Opsets: map[string]int64{"": Opset}, Graph: b.g, ProducerName: Producer}
}

// op adds a node of type opType in scope ("/encoder/layer.0/attention")
// and returns its output names. Repeated ops in one scope get the
// exporter's suffixes: "/Add", "/Add_1", ...
func (b *builder) op(scope, opType string, nout int, inputs []string, attrs ...*graph.Attr) []string {
	key := scope + "/" + opType
	name := key
	if k := b.uses[key]; k > 0 {
		name = key + "_" + strconv.Itoa(k)
	}
	b.uses[key]++
	outs := make([]string, nout)
	for i := range outs {
		outs[i] = name + "_output_" + strconv.Itoa(i)
	}
	n := &graph.Node{Name: name, OpType: opType, Inputs: inputs, Outputs: outs}
	if len(attrs) > 0 {
		n.Attrs = graph.Attrs(attrs...)
	}
	b.g.Nodes = append(b.g.Nodes, n)
	return outs
}

// op1 is op for the usual single output.
func (b *builder) op1(scope, opType string, inputs []string, attrs ...*graph.Attr) string {
	return b.op(scope, opType, 1, inputs, attrs...)[0]
}

// init adds an initializer and returns its name.
func (b *builder) init(name string, t *tensor.Tensor) string {
	b.g.Initializers[name] = t
	return name
}

// weight adds a float32 initializer of random values in [-bound, bound).
func (b *builder) weight(name string, bound float32, shape ...int) string {
	return b.init(name, tensor.MustFrom(tensor.Shape(shape), b.rng.uniform(tensor.Shape(shape).Size(), bound)))
}

// around adds a float32 initializer of random values in [c-d, c+d).
func (b *builder) around(name string, c, d float32, shape ...int) string {
	v := b.rng.uniform(tensor.Shape(shape).Size(), d)
	for i := range v {
		v[i] += c
	}
	return b.init(name, tensor.MustFrom(tensor.Shape(shape), v))
}

// constant adds a Constant node holding t in scope and returns its output.
func (b *builder) constant(scope string, t *tensor.Tensor) string {
	return b.op1(scope, "Constant", nil, graph.TensorAttr("value", t))
}

// scalar adds a Constant node holding a float32 scalar.
func (b *builder) scalar(scope string, v float32) string {
	return b.constant(scope, tensor.MustFrom(tensor.Shape{}, []float32{v}))
}

// ints adds a Constant node holding a 1-D int64 tensor.
func (b *builder) ints(scope string, v ...int64) string {
	return b.constant(scope, tensor.MustFrom(tensor.Shape{len(v)}, v))
}

// input declares a graph input.
func (b *builder) input(name string, dt tensor.DType, dims ...graph.Dim) string {
	b.g.Inputs = append(b.g.Inputs, graph.ValueInfo{Name: name, DType: dt, Dims: dims})
	return name
}

// output declares a graph output and renames the value that feeds it, as
// the exporter does, so the last node writes the output name directly.
func (b *builder) output(value, name string, dt tensor.DType, dims ...graph.Dim) {
	for _, n := range b.g.Nodes {
		for i, o := range n.Outputs {
			if o == value {
				n.Outputs[i] = name
			}
		}
		for i, in := range n.Inputs {
			if in == value {
				n.Inputs[i] = name
			}
		}
	}
	b.g.Outputs = append(b.g.Outputs, graph.ValueInfo{Name: name, DType: dt, Dims: dims})
}

// RandomFloats returns a float32 tensor of the shape with values uniform
// in [lo, hi), the same for the same seed.
func RandomFloats(shape tensor.Shape, lo, hi float32, seed uint64) *tensor.Tensor {
	r := newRNG(seed)
	v := make([]float32, shape.Size())
	for i := range v {
		v[i] = lo + (hi-lo)*r.unit()
	}
	return tensor.MustFrom(shape.Clone(), v)
}

// kaiming is the bound of a uniform distribution with variance
// gain²/fanIn.
func kaiming(fanIn int, gain float64) float32 {
	return float32(gain * math.Sqrt(3/float64(fanIn)))
}
