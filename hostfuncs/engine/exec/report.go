package exec

import (
	"maps"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/fusion"
)

// Report describes a compiled plan: what it runs, the memory it plans and
// the memory it has measured. The planned figures are computed from the
// inferred shapes at the reference dimensions (WithReferenceDims; 1 for a
// symbol not given); MemoryAt gives them at others.
type Report struct {
	// Device names the device the value buffers are allocated on.
	Device string
	// Steps is the number of nodes a run executes, after fusion, constant
	// folding and pruning.
	Steps int
	// Fused counts the fusions applied, by kind ("Conv+Relu", "Gelu", ...);
	// empty when fusion is off or found nothing. FusionError says why the
	// graph runs unfused when the fusion pass failed on it.
	Fused       fusion.Counts
	FusionError string
	// Values is the number of intermediate values the memory plan places;
	// Buffers the number of buffers they share. Unsized values are those
	// whose size inference could not tell: each has a buffer of its own,
	// sized by its kernel, and is counted in neither byte figure.
	Values, Buffers, Unsized int
	// Layout fingerprints the assignment of values to buffers; it never
	// changes after Compile.
	Layout uint64
	// Dims are the reference sizes of the symbolic input dimensions.
	Dims map[string]int64
	// WeightsBytes is WeightsBytes.
	WeightsBytes int64
	// PlannedBytes is the intermediate values' memory under the plan: the
	// sum of the buffers, each the size of the largest value placed in it.
	// NaiveBytes is what one buffer per value would hold.
	PlannedBytes, NaiveBytes int64
	// WorkingBytes is WorkingBytes (measured, 0 before the first run);
	// ArenaBytes is its part in value buffers, without the kernels'
	// scratch, the figure PlannedBytes predicts.
	WorkingBytes, ArenaBytes int64
}

// Report describes the plan.
func (p *Plan) Report() Report {
	r := Report{
		Device:       p.device.Name(),
		Steps:        len(p.steps),
		Fused:        maps.Clone(p.fused),
		Values:       p.mem.values,
		Buffers:      p.mem.buffers,
		Unsized:      p.mem.unsized,
		Layout:       p.mem.layout,
		Dims:         make(map[string]int64, len(p.mem.symbols)),
		WeightsBytes: p.weights,
		WorkingBytes: p.working.Load(),
		ArenaBytes:   p.arena.Load(),
	}
	if r.Fused == nil {
		r.Fused = fusion.Counts{}
	}
	if p.fuseErr != nil {
		r.FusionError = p.fuseErr.Error()
	}
	for i, name := range p.mem.symbols {
		r.Dims[name] = p.mem.ref[i]
	}
	r.PlannedBytes, r.NaiveBytes = p.mem.figures(p.mem.ref)
	return r
}

// MemoryAt is PlannedBytes and NaiveBytes with the symbolic dimensions in
// dims at the sizes given there (the others at their reference sizes): the
// buffers a run with such inputs holds, and one buffer per value.
func (p *Plan) MemoryAt(dims map[string]int64) (planned, naive int64) {
	return p.mem.figures(p.mem.binding(dims))
}
