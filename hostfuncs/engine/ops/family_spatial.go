package ops

// spatialFamily defines the pooling, transposed convolution, resizing and other image-space operators.
func spatialFamily() map[string][]Schema {
	return map[string][]Schema{}
}
