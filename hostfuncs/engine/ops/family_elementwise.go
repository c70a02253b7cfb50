package ops

// elementwiseFamily defines the elementwise maths, comparison and logic operators (unary and broadcasting binary/variadic).
func elementwiseFamily() map[string][]Schema {
	return map[string][]Schema{}
}
