// Package store keeps what users upload — module binaries, model files,
// manifests — on disk so it survives restarts and crashes.
//
// Blobs are content-addressed: a blob is named by the sha256 of its bytes,
// written to a temporary file, synced and renamed into place, so a reader
// sees a whole blob or none, and its name proves its content. Records are
// small JSON documents written the same way. A crash (even kill -9) mid-write
// leaves only a temporary file, which Open removes; nothing partial is ever
// read back.
package store
