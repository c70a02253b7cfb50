package exec

import (
	"testing"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/modelgen"
)

// TestMemoryPlanInvariants checks the assignment the kernels rely on, on
// the generated models with and without fusion: no step's output shares a
// buffer with one of its inputs or another of its outputs, values that
// share a buffer are never alive at once, graph outputs, inputs and
// constants are not in the arena, and every intermediate is.
func TestMemoryPlanInvariants(t *testing.T) {
	bert := modelgen.SmallBERT()
	bert.Layers = 2
	decomposed := bert
	decomposed.DecomposedLayerNorm, decomposed.DynamicSeq = true, true
	models := map[string]func() (*graph.Model, error){
		"bert":       func() (*graph.Model, error) { return modelgen.BERTEncoder(bert) },
		"decomposed": func() (*graph.Model, error) { return modelgen.BERTEncoder(decomposed) },
		"resnet18":   func() (*graph.Model, error) { return modelgen.ResNet18(modelgen.Dynamic, 1), nil },
		"mnist":      func() (*graph.Model, error) { return modelgen.MNIST(modelgen.Dynamic, 1), nil },
	}
	for name, build := range models {
		for _, opts := range [][]Option{nil, {WithoutFusion()}} {
			m, err := build()
			if err != nil {
				t.Fatal(err)
			}
			p, err := Compile(m, opts...)
			if err != nil {
				t.Fatal(err)
			}
			checkAssignment(t, name, p)
		}
	}
}

func checkAssignment(t *testing.T, name string, p *Plan) {
	t.Helper()
	mp := &p.mem
	life := map[int]lifetime{}
	for i, st := range p.steps {
		for _, s := range st.out {
			life[s] = lifetime{i, i}
		}
		for _, s := range st.in {
			if l, ok := life[s]; ok {
				life[s] = lifetime{l.def, i}
			}
		}
		for j, o := range st.out {
			b := mp.buffer[o]
			if b < 0 {
				continue
			}
			for _, in := range st.in {
				if in >= 0 && mp.buffer[in] == b {
					t.Errorf("%s: node %v writes buffer %d that its input %d is in", name, st.node, b, in)
				}
			}
			for _, o2 := range st.out[j+1:] {
				if mp.buffer[o2] == b {
					t.Errorf("%s: node %v writes two outputs to buffer %d", name, st.node, b)
				}
			}
		}
	}
	outputs := map[int]bool{}
	for _, s := range p.outSlots {
		outputs[s] = true
		if mp.buffer[s] >= 0 {
			t.Errorf("%s: graph output slot %d is in buffer %d", name, s, mp.buffer[s])
		}
	}
	for s, kind := range p.slotKind {
		inArena := mp.buffer[s] >= 0
		if want := kind == slotIntermediate && !outputs[s]; inArena != want {
			t.Errorf("%s: slot %d (kind %d) in the arena: %v", name, s, kind, inArena)
		}
	}
	for a, la := range life {
		for b, lb := range life {
			if a < b && mp.buffer[a] >= 0 && mp.buffer[a] == mp.buffer[b] && la.overlaps(lb) {
				t.Errorf("%s: slots %d %v and %d %v share buffer %d while both alive", name, a, la, b, lb, mp.buffer[a])
			}
		}
	}
}
