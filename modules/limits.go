package modules

import (
	"time"

	"github.com/wasmgate/wasmgate/hostfuncs"
)

// Limits bound what a module's instances may use. A zero field takes the
// runtime's default.
type Limits struct {
	// MemoryPages caps each instance's linear memory (64 KiB pages).
	MemoryPages uint32
	// MaxOutputBytes caps what one call may return.
	MaxOutputBytes int
	// InlineBytes is the largest tensor sent inside an input list; larger
	// ones are passed as host handles (docs/ABI.md §2).
	InlineBytes int
	// QuotaBytes caps the host memory one call creates through host
	// functions.
	QuotaBytes int64
	// InitTimeout bounds instantiation, _initialize included.
	InitTimeout time.Duration
}

// Defaults of Limits (docs/ABI.md §6).
const (
	DefaultMemoryPages    = 1024 // 64 MiB
	DefaultMaxOutputBytes = 64 << 20
	DefaultInlineBytes    = 1 << 20
	DefaultInitTimeout    = 10 * time.Second
)

// withDefaults fills zero fields from def, then from the package defaults.
func (l Limits) withDefaults(def Limits) Limits {
	pick := func(v, d, dd int64) int64 {
		switch {
		case v > 0:
			return v
		case d > 0:
			return d
		}
		return dd
	}
	l.MemoryPages = uint32(pick(int64(l.MemoryPages), int64(def.MemoryPages), DefaultMemoryPages))
	l.MaxOutputBytes = int(pick(int64(l.MaxOutputBytes), int64(def.MaxOutputBytes), DefaultMaxOutputBytes))
	l.InlineBytes = int(pick(int64(l.InlineBytes), int64(def.InlineBytes), DefaultInlineBytes))
	l.QuotaBytes = pick(l.QuotaBytes, def.QuotaBytes, hostfuncs.DefaultQuotaBytes)
	l.InitTimeout = time.Duration(pick(int64(l.InitTimeout), int64(def.InitTimeout), int64(DefaultInitTimeout)))
	return l
}

// maxInputBytes caps one call's encoded inputs. A guest's linear memory only
// grows and its heap cannot move objects, so an input near the memory limit
// kills the instance; a quarter of the limit leaves room to decode it.
func (l Limits) maxInputBytes() int {
	return int(min(int64(l.MemoryPages)*65536/4, 1<<30))
}
