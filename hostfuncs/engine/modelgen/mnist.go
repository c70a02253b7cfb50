package modelgen

import (
	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// MNIST input and output names: mnist-7's.
const (
	MNISTInput  = "Input3"
	MNISTOutput = "Plus214_Output_0"
)

// MNIST builds the graph of the ONNX model zoo's mnist-7 node for node,
// with its value and node names, so the gateway's MNIST pre- and
// post-processing fit it: Conv 5×5 SAME_UPPER (1→8) + Add + Relu +
// MaxPool 2×2/2, Conv 5×5 (8→16) + Add + Relu + MaxPool 3×3/3, Reshape to
// [batch,256], MatMul by the [16,4,4,10] weight reshaped to [256,10], Add.
// The weights are random (for seed), scaled for raw pixel values 0..255.
// mnist-7 fixes the batch at 1 and reshapes to [1,256]; here batch > 0
// fixes it at batch, and Dynamic makes it symbolic with a reshape to
// [-1,256].
func MNIST(batch int, seed uint64) *graph.Model {
	b := newBuilder("CNTKGraph", seed)
	n := batchDim(batch)
	b.input(MNISTInput, tensor.Float32, n, graph.FixedDim(1), graph.FixedDim(28), graph.FixedDim(28))
	rows := int64(-1)
	if batch > 0 {
		rows = int64(batch)
	}
	b.weight("Parameter5", kaiming(25, 1)/255, 8, 1, 5, 5)
	b.weight("Parameter6", 0.1, 8, 1, 1)
	b.weight("Parameter87", kaiming(200, 1), 16, 8, 5, 5)
	b.weight("Parameter88", 0.1, 16, 1, 1)
	b.weight("Parameter193", kaiming(256, 1), 16, 4, 4, 10)
	b.weight("Parameter194", 0.1, 1, 10)
	b.init("Parameter193_reshape1_shape", tensor.MustFrom(tensor.Shape{2}, []int64{256, 10}))
	b.init("Pooling160_Output_0_reshape0_shape", tensor.MustFrom(tensor.Shape{2}, []int64{rows, 256}))

	conv := func(attrs ...*graph.Attr) []*graph.Attr {
		return append(attrs, graph.StringAttr("auto_pad", "SAME_UPPER"), graph.IntsAttr("dilations", 1, 1),
			graph.IntAttr("group", 1), graph.IntsAttr("kernel_shape", 5, 5), graph.IntsAttr("strides", 1, 1))
	}
	pool := func(k int64) []*graph.Attr {
		return []*graph.Attr{graph.StringAttr("auto_pad", "NOTSET"), graph.IntsAttr("kernel_shape", k, k),
			graph.IntsAttr("pads", 0, 0, 0, 0), graph.IntsAttr("strides", k, k)}
	}
	node := func(name, op string, in []string, out string, attrs ...*graph.Attr) {
		nd := &graph.Node{Name: name, OpType: op, Inputs: in, Outputs: []string{out}}
		if len(attrs) > 0 {
			nd.Attrs = graph.Attrs(attrs...)
		}
		b.g.Nodes = append(b.g.Nodes, nd)
	}
	node("Times212_reshape1", "Reshape", []string{"Parameter193", "Parameter193_reshape1_shape"}, "Parameter193_reshape1")
	node("Convolution28", "Conv", []string{MNISTInput, "Parameter5"}, "Convolution28_Output_0", conv()...)
	node("Plus30", "Add", []string{"Convolution28_Output_0", "Parameter6"}, "Plus30_Output_0")
	node("ReLU32", "Relu", []string{"Plus30_Output_0"}, "ReLU32_Output_0")
	node("Pooling66", "MaxPool", []string{"ReLU32_Output_0"}, "Pooling66_Output_0", pool(2)...)
	node("Convolution110", "Conv", []string{"Pooling66_Output_0", "Parameter87"}, "Convolution110_Output_0", conv()...)
	node("Plus112", "Add", []string{"Convolution110_Output_0", "Parameter88"}, "Plus112_Output_0")
	node("ReLU114", "Relu", []string{"Plus112_Output_0"}, "ReLU114_Output_0")
	node("Pooling160", "MaxPool", []string{"ReLU114_Output_0"}, "Pooling160_Output_0", pool(3)...)
	node("Times212_reshape0", "Reshape", []string{"Pooling160_Output_0", "Pooling160_Output_0_reshape0_shape"}, "Pooling160_Output_0_reshape0")
	node("Times212", "MatMul", []string{"Pooling160_Output_0_reshape0", "Parameter193_reshape1"}, "Times212_Output_0")
	node("Plus214", "Add", []string{"Times212_Output_0", "Parameter194"}, MNISTOutput)
	b.g.Outputs = []graph.ValueInfo{{Name: MNISTOutput, DType: tensor.Float32, Dims: []graph.Dim{n, graph.FixedDim(10)}}}
	return b.model()
}

// RandomMNISTInput is a random batch of 28×28 images with pixel values uniform
// in [0, 255).
func RandomMNISTInput(batch int, seed uint64) tensor.Named {
	return tensor.Named{Name: MNISTInput, Tensor: RandomFloats(tensor.Shape{batch, 1, 28, 28}, 0, 255, seed)}
}
