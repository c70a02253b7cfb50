package sdk

import "fmt"

// Level is the severity of a log message.
type Level int32

// The levels of the wasmgate.log import.
const (
	LevelDebug Level = 0
	LevelInfo  Level = 1
	LevelWarn  Level = 2
	LevelError Level = 3
)

// Log writes msg to the server's log (the host cuts it at 4 KiB).
func Log(level Level, msg string) { logWrite(level, msg) }

// Logf is Log with fmt formatting.
func Logf(level Level, format string, a ...any) { logWrite(level, fmt.Sprintf(format, a...)) }
