package ops

// nnFamily defines the matrix and network operators: Gemm, Einsum, Attention, losses and the like.
func nnFamily() map[string][]Schema {
	return map[string][]Schema{}
}
