package ops

// spatialFamily defines the pooling, transposed convolution, resizing and other image-space operators.
func spatialFamily() map[string][]Schema {
	return map[string][]Schema{
		"AffineGrid":        affineGridSchemas(),
		"AveragePool":       averagePoolSchemas(),
		"Col2Im":            col2ImSchemas(),
		"ConvTranspose":     convTransposeSchemas(),
		"DeformConv":        deformConvSchemas(),
		"GlobalAveragePool": globalAveragePoolSchemas(),
		"GlobalMaxPool":     globalMaxPoolSchemas(),
		"GridSample":        gridSampleSchemas(),
		"LRN":               lrnSchemas(),
		"LpPool":            lpPoolSchemas(),
		"MaxRoiPool":        maxRoiPoolSchemas(),
		"MaxUnpool":         maxUnpoolSchemas(),
		"Resize":            resizeSchemas(),
		"RoiAlign":          roiAlignSchemas(),
		"Upsample":          upsampleSchemas(),
	}
}
