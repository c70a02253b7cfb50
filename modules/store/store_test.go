package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/fault"
)

func TestBlobs(t *testing.T) {
	is := is.New(t)
	s, err := Open(t.TempDir())
	is.NoErr(err)
	data := []byte("\x00asm module bytes")
	d, n, err := s.PutBlob(bytes.NewReader(data), 1024)
	is.NoErr(err)
	sum := sha256.Sum256(data)
	is.Equal(d, hex.EncodeToString(sum[:]))
	is.Equal(n, int64(len(data)))
	got, err := s.Blob(d)
	is.NoErr(err)
	is.Equal(got, data)

	_, _, err = s.PutBlob(bytes.NewReader(make([]byte, 2000)), 1024)
	is.Equal(fault.KindOf(err), fault.TooLarge)
	_, err = s.Blob(strings.Repeat("0", 64))
	is.Equal(fault.KindOf(err), fault.NotFound)
	_, err = s.Blob("../../etc/passwd")
	is.Equal(fault.KindOf(err), fault.Invalid)

	// A blob whose bytes changed on disk is reported, not served.
	p, _ := s.blobPath(d)
	is.NoErr(os.WriteFile(p, []byte("tampered"), 0o600))
	_, err = s.Blob(d)
	is.True(err != nil && strings.Contains(err.Error(), "corrupt"))
}

func TestRecords(t *testing.T) {
	is := is.New(t)
	dir := t.TempDir()
	s, err := Open(dir)
	is.NoErr(err)
	type rec struct{ Digest string }
	is.NoErr(s.PutRecord([]string{"acme", "modules", "pre"}, rec{"abc"}))
	is.NoErr(s.PutRecord([]string{"acme", "modules", "post"}, rec{"def"}))
	var r rec
	is.NoErr(s.Record([]string{"acme", "modules", "pre"}, &r))
	is.Equal(r.Digest, "abc")
	names, err := s.List([]string{"acme", "modules"})
	is.NoErr(err)
	is.Equal(names, []string{"post", "pre"})
	is.NoErr(s.DeleteRecord([]string{"acme", "modules", "pre"}))
	is.Equal(fault.KindOf(s.Record([]string{"acme", "modules", "pre"}, &r)), fault.NotFound)
	is.Equal(fault.KindOf(s.PutRecord([]string{"..", "x"}, r)), fault.Invalid)
	is.Equal(fault.KindOf(s.PutRecord([]string{"a/b"}, r)), fault.Invalid)

	// Leftovers of a crash mid-write are removed when the store opens.
	leftover := filepath.Join(dir, "records", "acme", "modules", tmpPrefix+"123")
	is.NoErr(os.WriteFile(leftover, []byte("{partial"), 0o600))
	names, _ = s.List([]string{"acme", "modules"})
	is.Equal(names, []string{"post"}) // never listed
	_, err = Open(dir)
	is.NoErr(err)
	_, err = os.Stat(leftover)
	is.True(os.IsNotExist(err))
	fi, err := os.Stat(dir)
	is.NoErr(err)
	is.Equal(fi.Mode().Perm(), os.FileMode(0o700))
}
