//go:build wasip1

package sdk

import "unsafe"

//go:wasmimport wasmgate log
func hostLog(level int32, ptr unsafe.Pointer, n int32)

func logWrite(level Level, msg string) {
	if len(msg) > 1<<20 {
		msg = msg[:1<<20] // the host keeps 4 KiB; this only keeps n in range
	}
	hostLog(int32(level), unsafe.Pointer(unsafe.StringData(msg)), int32(len(msg)))
}
