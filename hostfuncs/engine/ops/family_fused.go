package ops

import (
	"maps"
	"slices"

	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// FusedDomain is the operator domain of the engine's fused kernels: the
// operators that graph fusion (package fusion) rewrites chains of standard
// operators into, as onnxruntime's com.microsoft domain holds its
// FusedConv, FusedMatMul and BiasGelu. A model that imports this domain
// may use them directly; every one has a single version, 1.
const FusedDomain = "wasmgate"

// fusedFamily defines the operators of FusedDomain.
func fusedFamily() map[string][]Schema {
	f32 := []tensor.DType{tensor.Float32}
	ln := layerNormSchemas()[0]
	ln.Since = 1
	gelu := ewGeluSchemas()[0]
	gelu.Since = 1
	return map[string][]Schema{
		"FusedConv": {{
			Since: 1, Inputs: params("X:T", "W:T", "B:T?", "Z:T?"), Outputs: params("Y:T"),
			Types: map[string][]tensor.DType{"T": f32},
			Attrs: []string{"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides", "activation"},
			Build: buildFusedConv,
		}},
		"FusedMatMul": {{
			Since: 1, Inputs: params("A:T", "B:T", "Bias:T?"), Outputs: params("Y:T"),
			Types: map[string][]tensor.DType{"T": f32},
			Attrs: []string{"activation"}, Build: buildFusedMatMul,
		}},
		"FusedGemm": {{
			Since: 1, Inputs: params("A:T", "B:T", "C:T?"), Outputs: params("Y:T"),
			Types: map[string][]tensor.DType{"T": f32},
			Attrs: []string{"alpha", "beta", "transA", "transB", "activation"}, Build: buildFusedGemm,
		}},
		"FusedAttention": {{
			Since: 1, Inputs: params("Q:T", "Kt:T", "V:T", "Mask:T?"), Outputs: params("Y:T"),
			Types: map[string][]tensor.DType{"T": f32},
			Attrs: []string{"scale", "scale_op"}, Build: buildFusedAttention,
		}},
		// The standard operators under their ONNX semantics, for models
		// whose opset predates them (Gelu is opset 20, LayerNormalization
		// 17): fusion writes the decomposed forms older exports have as
		// these.
		"Gelu":               {gelu},
		"LayerNormalization": {ln},
	}
}

// withDomain returns r plus the operators of defs in domain.
func (r *Registry) withDomain(domain string, defs map[string][]Schema) *Registry {
	out := &Registry{ops: maps.Clone(r.ops)}
	for op, versions := range defs {
		versions = slices.Clone(versions)
		slices.SortFunc(versions, func(a, b Schema) int { return int(a.Since - b.Since) })
		out.ops[opKey{domain, op}] = versions
	}
	return out
}
