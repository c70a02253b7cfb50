// Package shapes infers the shapes of a graph's values before it runs, with
// symbolic dimensions, so that a planner can size and share buffers once per
// model rather than once per request.
//
// A Dim is a fixed size or a multiple of a product of symbols: "batch_size",
// "128", "4*batch_size*sequence_length". The symbols come from the graph
// inputs' declared dimensions (a named dimension is its name, an unnamed one
// "input[axis]"), so every symbol of an inferred shape is known once a run's
// inputs are. Where a rule cannot tell a size (a data-dependent one, an
// operator it has no rule for) it mints an unknown symbol ("?3") that no
// input binds, and a whole shape it cannot tell at all is reported as not
// known.
//
// Small integer tensors are followed by value as well as by shape, as
// symbolic vectors: the Shape → Gather → Unsqueeze → Concat → Reshape chains
// that exporters write for a dynamic batch or sequence compute their target
// shapes from the input's own dimensions, so the Reshape's output gets a
// shape in the input's symbols. Nodes whose inputs are all small constants
// are evaluated with their kernels.
//
// Inference never fails a model: an operator without a rule, or a node
// whose inputs do not fit its rule, only leaves its outputs unknown. The
// kernels remain the judges of validity when the graph runs.
package shapes
