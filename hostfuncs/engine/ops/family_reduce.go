package ops

// reduceFamily defines the reductions, arg-reductions, softmax-like and normalisation operators.
func reduceFamily() map[string][]Schema {
	return map[string][]Schema{}
}
