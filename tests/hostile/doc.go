// Package hostile attacks a running wasmgate with hostile guests uploaded
// through its HTTP API, while another tenant's model serves steady load, and
// checks that every attack gets a clear error with the right status, the
// server keeps serving the other tenant within its deadline, a garbage
// collection still completes, and no memory is left behind.
package hostile
