package modules

import (
	"context"
	"fmt"
	"strings"

	"github.com/wasmgate/wasmgate/hostfuncs/abi"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// Pipeline chains stages. Between stages tensors bind by position: the
// outputs of one stage become the inputs of the next, renamed to the names
// the next stage declares (docs/ABI.md §3), so modules never need to know
// the graph's internal names.
type Pipeline struct {
	stages []Stage
}

// NewPipeline checks that each stage's outputs fit the next stage's inputs
// in number, datatype and shape. It takes ownership of the stages.
func NewPipeline(stages ...Stage) (*Pipeline, error) {
	if len(stages) == 0 {
		return nil, fault.Errorf(fault.Invalid, "a pipeline needs at least one stage")
	}
	for i := 1; i < len(stages); i++ {
		if err := checkBinding(stages[i-1], stages[i]); err != nil {
			return nil, err
		}
	}
	return &Pipeline{stages: stages}, nil
}

func checkBinding(from, to Stage) error {
	outs, ins := from.Outputs(), to.Inputs()
	if len(outs) != len(ins) {
		return fault.Errorf(fault.Invalid, "stage %s returns %d tensors but stage %s takes %d",
			from.Name(), len(outs), to.Name(), len(ins))
	}
	for i := range outs {
		o, in := outs[i], ins[i]
		if o.DType != in.DType {
			return fault.Errorf(fault.Invalid, "stage %s output %d (%s) is %v but stage %s input %d (%s) is %v",
				from.Name(), i, o.Name, o.DType, to.Name(), i, in.Name, in.DType)
		}
		if !shapesCompatible(o.Shape, in.Shape) {
			return fault.Errorf(fault.Invalid, "stage %s output %s has shape %v but stage %s input %s has shape %v",
				from.Name(), o.Name, o.Shape, to.Name(), in.Name, in.Shape)
		}
	}
	return nil
}

// shapesCompatible reports whether two declared shapes can describe the
// same tensor (-1 matches any size).
func shapesCompatible(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && a[i] != -1 && b[i] != -1 {
			return false
		}
	}
	return true
}

// shapeFits reports whether a concrete shape matches a declared one.
func shapeFits(s tensor.Shape, spec []int64) bool {
	if len(s) != len(spec) {
		return false
	}
	for i, d := range spec {
		if d != -1 && int64(s[i]) != d {
			return false
		}
	}
	return true
}

// Inputs are what a client sends: the first stage's inputs.
func (p *Pipeline) Inputs() []abi.TensorSpec { return p.stages[0].Inputs() }

// Outputs are what a client receives: the last stage's outputs.
func (p *Pipeline) Outputs() []abi.TensorSpec { return p.stages[len(p.stages)-1].Outputs() }

// Stages lists the stages in order.
func (p *Pipeline) Stages() []Stage { return p.stages }

// MemoryBytes is the memory all stages hold.
func (p *Pipeline) MemoryBytes() int64 {
	var n int64
	for _, s := range p.stages {
		n += s.MemoryBytes()
	}
	return n
}

// Close closes every stage.
func (p *Pipeline) Close(ctx context.Context) {
	for _, s := range p.stages {
		s.Close(ctx)
	}
}

// Run checks the request's tensors against the declared inputs and runs the
// stages in order. Each later stage's inputs are checked too: a dimension
// one stage leaves open (-1) may come out of the request in a size the next
// stage does not take, which is the request's fault, not a module's.
func (p *Pipeline) Run(ctx context.Context, in []tensor.Named) ([]tensor.Named, error) {
	cur := in
	for i, s := range p.stages {
		if err := ctx.Err(); err != nil {
			return nil, fault.Wrap(fault.KindOf(err), fmt.Errorf("before stage %s: %w", s.Name(), err))
		}
		if err := CheckInputs(s.Inputs(), cur); err != nil {
			if i == 0 {
				return nil, err
			}
			return nil, fault.Errorf(fault.Invalid, "stage %s cannot take what stage %s made of this request: %w", s.Name(), p.stages[i-1].Name(), err)
		}
		out, err := s.Run(ctx, cur)
		if err != nil {
			return nil, err
		}
		if err := checkOutputs(s, out); err != nil {
			return nil, err
		}
		if i+1 < len(p.stages) {
			next := p.stages[i+1].Inputs()
			for j := range out {
				out[j].Name = next[j].Name
			}
		}
		cur = out
	}
	return cur, nil
}

// checkOutputs holds a stage to what it declared: a module that returns
// something else is broken, not the caller.
func checkOutputs(s Stage, out []tensor.Named) error {
	decl := s.Outputs()
	if len(out) != len(decl) {
		return fault.Errorf(fault.ModuleFault, "stage %s returned %d tensors, it declares %d", s.Name(), len(out), len(decl))
	}
	for i, t := range out {
		d := decl[i]
		if t.Tensor == nil || t.Name != d.Name || t.DType != d.DType || !shapeFits(t.Shape, d.Shape) {
			return fault.Errorf(fault.ModuleFault, "stage %s output %d is %s %v, it declares %s %v %v",
				s.Name(), i, t.Name, t, d.Name, d.DType, d.Shape)
		}
	}
	return nil
}

// CheckInputs validates a request's tensors against declared inputs: every
// name known, every required input present, datatypes and shapes matching.
func CheckInputs(decl []abi.TensorSpec, in []tensor.Named) error {
	seen := make(map[string]bool, len(in))
	for _, t := range in {
		var d *abi.TensorSpec
		for i := range decl {
			if decl[i].Name == t.Name {
				d = &decl[i]
				break
			}
		}
		if d == nil {
			return fault.Errorf(fault.Invalid, "unexpected input %q; the model takes %s", t.Name, describeSpecs(decl))
		}
		if seen[t.Name] {
			return fault.Errorf(fault.Invalid, "input %q given twice", t.Name)
		}
		seen[t.Name] = true
		if t.DType != d.DType {
			return fault.Errorf(fault.Invalid, "input %q has datatype %v, the model expects %v", t.Name, t.DType, d.DType)
		}
		if !shapeFits(t.Shape, d.Shape) {
			return fault.Errorf(fault.Invalid, "input %q has shape %v, the model expects %v", t.Name, []int(t.Shape), d.Shape)
		}
	}
	for _, d := range decl {
		if !d.Optional && !seen[d.Name] {
			return fault.Errorf(fault.Invalid, "missing input %q; the model takes %s", d.Name, describeSpecs(decl))
		}
	}
	return nil
}

func describeSpecs(decl []abi.TensorSpec) string {
	parts := make([]string, len(decl))
	for i, d := range decl {
		opt := ""
		if d.Optional {
			opt = ", optional"
		}
		parts[i] = fmt.Sprintf("%s (%v %v%s)", d.Name, d.DType, d.Shape, opt)
	}
	return strings.Join(parts, ", ")
}
