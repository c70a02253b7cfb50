package ops

import (
	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// The activations with attributes run on the unary kernel; their builders
// decode the attributes into its alpha, beta and gamma.

// ewAttr is a float attribute, its default, and the parameter of the
// unary kernel it sets.
type ewAttr struct {
	name string
	def  float32
	slot ewSlot
}

type ewSlot uint8

const (
	ewAlpha ewSlot = iota
	ewBeta
	ewGamma
)

// ewBuildAct builds an activation whose parameters are float attributes.
// defaults picks them for the model's opset, as some changed between
// versions.
func ewBuildAct(name string, op ewUOp, defaults func(opset int64) []ewAttr) Builder {
	return func(n *graph.Node, opset int64) (Kernel, error) {
		k := &ewUnary{name: name, op: op}
		dst := [...]*float64{ewAlpha: &k.alpha, ewBeta: &k.beta, ewGamma: &k.gamma}
		for _, a := range defaults(opset) {
			v, err := n.AttrFloat(a.name, a.def)
			if err != nil {
				return nil, err
			}
			*dst[a.slot] = float64(v)
		}
		return k, nil
	}
}

// ewFixed returns the same attribute defaults for every opset.
func ewFixed(attrs ...ewAttr) func(int64) []ewAttr {
	return func(int64) []ewAttr { return attrs }
}

// ewActSchemas are the versions of the activations that date from opset 1
// (Elu, HardSigmoid, Selu): consumed_inputs dropped at 6, bfloat16 added at
// 22.
func ewActSchemas(build Builder, attrs ...string) []Schema {
	return ewUnarySchemas(build,
		ewV(1, floats(), append([]string{"consumed_inputs"}, attrs...)...),
		ewV(6, floats(), attrs...),
		ewV(22, floatsBF16(), attrs...),
	)
}

func ewLeakyReluSchemas() []Schema {
	build := ewBuildAct("LeakyRelu", ewULeakyRelu, ewFixed(ewAttr{"alpha", 0.01, ewAlpha}))
	return ewUnarySchemas(build,
		ewV(1, floats(), "alpha", "consumed_inputs"),
		ewV(6, floats(), "alpha"),
		ewV(16, floatsBF16(), "alpha"),
	)
}

func ewEluSchemas() []Schema {
	return ewActSchemas(ewBuildAct("Elu", ewUElu, ewFixed(ewAttr{"alpha", 1, ewAlpha})), "alpha")
}

func ewHardSigmoidSchemas() []Schema {
	return ewActSchemas(ewBuildAct("HardSigmoid", ewUHardSigmoid, ewFixed(ewAttr{"alpha", 0.2, ewAlpha}, ewAttr{"beta", 0.5, ewBeta})), "alpha", "beta")
}

// Selu-1's defaults were the constants rounded to five digits; Selu-6 made
// them the float32 values of the paper's constants.
func ewSeluSchemas() []Schema {
	build := ewBuildAct("Selu", ewUSelu, func(opset int64) []ewAttr {
		if opset < 6 {
			return []ewAttr{{"alpha", 1.6732, ewAlpha}, {"gamma", 1.0507, ewGamma}}
		}
		return []ewAttr{{"alpha", 1.67326319217681884765625, ewAlpha}, {"gamma", 1.05070102214813232421875, ewGamma}}
	})
	return ewActSchemas(build, "alpha", "gamma")
}

func ewThresholdedReluSchemas() []Schema {
	build := ewBuildAct("ThresholdedRelu", ewUThresholdedRelu, ewFixed(ewAttr{"alpha", 1, ewAlpha}))
	return ewUnarySchemas(build, ewV(10, floats(), "alpha"), ewV(22, floatsBF16(), "alpha"))
}

// Celu divides by alpha, so alpha 0 is refused.
func ewCeluSchemas() []Schema {
	inner := ewBuildAct("Celu", ewUCelu, ewFixed(ewAttr{"alpha", 1, ewAlpha}))
	build := func(n *graph.Node, opset int64) (Kernel, error) {
		k, err := inner(n, opset)
		if err == nil && k.(*ewUnary).alpha == 0 {
			return nil, fault.Errorf(fault.Invalid, "Celu: alpha must not be 0")
		}
		return k, err
	}
	return ewUnarySchemas(build, ewV(12, []tensor.DType{tensor.Float32}, "alpha"))
}

func ewShrinkSchemas() []Schema {
	build := ewBuildAct("Shrink", ewUShrink, ewFixed(ewAttr{"lambd", 0.5, ewAlpha}, ewAttr{"bias", 0, ewBeta}))
	return ewUnarySchemas(build, ewV(9, ewNumeric(), "bias", "lambd"))
}

func ewSwishSchemas() []Schema {
	build := ewBuildAct("Swish", ewUSwish, ewFixed(ewAttr{"alpha", 1, ewAlpha}))
	return ewUnarySchemas(build, ewV(24, floatsBF16(), "alpha"))
}

func ewGeluSchemas() []Schema {
	build := func(n *graph.Node, _ int64) (Kernel, error) {
		a, err := n.AttrString("approximate", "none")
		if err != nil {
			return nil, err
		}
		switch a {
		case "none":
			return &ewUnary{name: "Gelu", op: ewUGelu}, nil
		case "tanh":
			return &ewUnary{name: "Gelu", op: ewUGeluTanh}, nil
		}
		return nil, fault.Errorf(fault.Invalid, `approximate must be "none" or "tanh", got %q`, a)
	}
	return ewUnarySchemas(build, ewV(20, floatsBF16(), "approximate"))
}

func ewHardSwishSchemas() []Schema {
	return ewUnarySchemas(ewPlain("HardSwish", ewUHardSwish), ewV(14, floats()), ewV(22, floatsBF16()))
}

func ewMishSchemas() []Schema {
	return ewUnarySchemas(ewPlain("Mish", ewUMish), ewV(18, floats()), ewV(22, floatsBF16()))
}

// Softplus and Softsign date from opset 1 without consumed_inputs.
func ewSoftSchemas(name string, op ewUOp) []Schema {
	return ewUnarySchemas(ewPlain(name, op), ewV(1, floats()), ewV(22, floatsBF16()))
}
