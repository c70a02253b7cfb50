package ops

// shapeFamily defines the operators that move, select, reshape or convert data without arithmetic on it.
func shapeFamily() map[string][]Schema {
	return map[string][]Schema{}
}
