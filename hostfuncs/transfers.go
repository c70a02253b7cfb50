package hostfuncs

// Transfers counts the tensor bytes a guest call moved across the sandbox
// boundary through host functions. Tensors passed by handle and worked on by
// op, model_run or the image functions never cross it, which is the point
// of handles; these numbers show how much still does.
type Transfers struct {
	Reads     int   // tensor_read calls: host tensor bytes copied into guest memory
	ReadBytes int64 // bytes they copied
	Puts      int   // tensor_put calls: a guest tensor copied out into host memory
	PutBytes  int64 // bytes of the tensor lists they decoded
}

// Add adds o to t.
func (t *Transfers) Add(o Transfers) {
	t.Reads += o.Reads
	t.ReadBytes += o.ReadBytes
	t.Puts += o.Puts
	t.PutBytes += o.PutBytes
}

// Transfers returns what the call moved so far.
func (c *Call) Transfers() Transfers {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.moved
}

func (c *Call) countRead(n int) {
	c.mu.Lock()
	c.moved.Reads++
	c.moved.ReadBytes += int64(n)
	c.mu.Unlock()
}

func (c *Call) countPut(n int) {
	c.mu.Lock()
	c.moved.Puts++
	c.moved.PutBytes += int64(n)
	c.mu.Unlock()
}
