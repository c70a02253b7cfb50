package modelgen

import (
	"fmt"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// ResNet18 input and output names and sizes.
const (
	ResNetInput   = "input"
	ResNetOutput  = "output"
	ResNetSize    = 224
	ResNetClasses = 1000
)

// ResNet18 builds torchvision's resnet18 as exported in eval mode:
// BatchNormalization folded into Conv weights and biases. batch > 0 fixes
// the batch dimension; Dynamic makes it symbolic. The weights are uniform
// with a variance that keeps activations of order one through the network
// (as a trained network's BatchNorm does), the same for the same seed.
func ResNet18(batch int, seed uint64) *graph.Model {
	b := newBuilder("main_graph", seed)
	n := batchDim(batch)
	x := b.input(ResNetInput, tensor.Float32, n, graph.FixedDim(3), graph.FixedDim(ResNetSize), graph.FixedDim(ResNetSize))

	x = b.conv("/conv1", "conv1", x, 3, 64, 7, 2)
	x = b.op1("/relu", "Relu", []string{x})
	x = b.op1("/maxpool", "MaxPool", []string{x},
		graph.IntAttr("ceil_mode", 0), graph.IntsAttr("dilations", 1, 1), graph.IntsAttr("kernel_shape", 3, 3),
		graph.IntsAttr("pads", 1, 1, 1, 1), graph.IntsAttr("strides", 2, 2))

	in := 64
	for stage, out := range []int{64, 128, 256, 512} {
		for block := range 2 {
			stride := 1
			if stage > 0 && block == 0 {
				stride = 2
			}
			layer := fmt.Sprintf("layer%d", stage+1)
			x = b.basicBlock(fmt.Sprintf("/%s/%s.%d", layer, layer, block), fmt.Sprintf("%s.%d", layer, block), x, in, out, stride)
			in = out
		}
	}

	x = b.op1("/avgpool", "GlobalAveragePool", []string{x})
	x = b.op1("", "Flatten", []string{x}, graph.IntAttr("axis", 1))
	bound := kaiming(512, 1/1.7320508) // PyTorch's Linear default: 1/√fan_in
	w := b.weight("fc.weight", bound, ResNetClasses, 512)
	bias := b.weight("fc.bias", bound, ResNetClasses)
	x = b.op1("/fc", "Gemm", []string{x, w, bias},
		graph.FloatAttr("alpha", 1), graph.FloatAttr("beta", 1), graph.IntAttr("transB", 1))
	b.output(x, ResNetOutput, tensor.Float32, n, graph.FixedDim(ResNetClasses))
	return b.model()
}

// conv adds a Conv with a bias (a convolution with its BatchNormalization
// folded in), square kernel k, padding k/2.
func (b *builder) conv(scope, param, x string, in, out, k, stride int) string {
	w := b.weight(param+".weight", kaiming(in*k*k, 1), out, in, k, k)
	bias := b.weight(param+".bias", 0.1, out)
	p := int64(k / 2)
	return b.op1(scope, "Conv", []string{x, w, bias},
		graph.IntsAttr("dilations", 1, 1), graph.IntAttr("group", 1), graph.IntsAttr("kernel_shape", int64(k), int64(k)),
		graph.IntsAttr("pads", p, p, p, p), graph.IntsAttr("strides", int64(stride), int64(stride)))
}

// basicBlock adds torchvision's BasicBlock: conv-relu-conv, plus the input
// or its 1×1 strided projection, then relu.
func (b *builder) basicBlock(scope, param, x string, in, out, stride int) string {
	y := b.conv(scope+"/conv1", param+".conv1", x, in, out, 3, stride)
	y = b.op1(scope+"/relu", "Relu", []string{y})
	y = b.conv(scope+"/conv2", param+".conv2", y, out, out, 3, 1)
	identity := x
	if stride != 1 || in != out {
		identity = b.conv(scope+"/downsample/downsample.0", param+".downsample.0", x, in, out, 1, stride)
	}
	y = b.op1(scope, "Add", []string{y, identity})
	return b.op1(scope+"/relu_1", "Relu", []string{y})
}

// RandomResNet18Input is a random image batch for ResNet18, values uniform in
// [-2, 2) (about the range of ImageNet-normalised pixels).
func RandomResNet18Input(batch int, seed uint64) tensor.Named {
	return tensor.Named{Name: ResNetInput, Tensor: RandomFloats(tensor.Shape{batch, 3, ResNetSize, ResNetSize}, -2, 2, seed)}
}
