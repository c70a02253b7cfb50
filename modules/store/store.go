package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/wasmgate/wasmgate/hostfuncs/fault"
)

// Store is a directory of blobs and records.
type Store struct {
	dir string
}

const tmpPrefix = ".tmp-"

// Open opens (creating, mode 0700) the store in dir and removes temporary
// files a crash left behind.
func Open(dir string) (*Store, error) {
	for _, d := range []string{dir, filepath.Join(dir, "blobs"), filepath.Join(dir, "records")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	// Uploaded code lives here: nobody else may read or replace it.
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: making %s private: %w", dir, err)
	}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasPrefix(d.Name(), tmpPrefix) {
			return os.Remove(p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: cleaning up: %w", err)
	}
	return &Store{dir: dir}, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

var digestRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

func (s *Store) blobPath(digest string) (string, error) {
	if !digestRE.MatchString(digest) {
		return "", fault.Errorf(fault.Invalid, "%q is not a sha256 digest", digest)
	}
	return filepath.Join(s.dir, "blobs", digest[:2], digest), nil
}

// PutBlob stores what r yields, at most max bytes, and returns its sha256
// and size. Storing a blob that exists already costs a rewrite, no more.
func (s *Store) PutBlob(r io.Reader, max int64) (digest string, size int64, err error) {
	tmp, err := os.CreateTemp(filepath.Join(s.dir, "blobs"), tmpPrefix+"*")
	if err != nil {
		return "", 0, fmt.Errorf("store: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	size, err = io.Copy(io.MultiWriter(tmp, h), io.LimitReader(r, max+1))
	if err != nil {
		return "", 0, fmt.Errorf("store: writing blob: %w", err)
	}
	if size > max {
		return "", 0, fault.Errorf(fault.TooLarge, "upload exceeds %d bytes", max)
	}
	digest = hex.EncodeToString(h.Sum(nil))
	if err := tmp.Sync(); err != nil {
		return "", 0, fmt.Errorf("store: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", 0, fmt.Errorf("store: %w", err)
	}
	dst, _ := s.blobPath(digest)
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return "", 0, fmt.Errorf("store: %w", err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return "", 0, fmt.Errorf("store: %w", err)
	}
	return digest, size, syncDir(filepath.Dir(dst))
}

// Blob reads a blob and checks that its bytes still hash to its name.
func (s *Store) Blob(digest string) ([]byte, error) {
	p, err := s.blobPath(digest)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fault.Errorf(fault.NotFound, "no blob %s", digest)
	}
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != digest {
		return nil, fmt.Errorf("store: blob %s is corrupt (its bytes hash to %x)", digest, sum)
	}
	return b, nil
}

// namePart is what a record path element may be: no separators, no dots
// that could climb out of the store.
var namePart = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// ValidName reports whether s can name a tenant, module, model or version.
func ValidName(s string) bool { return namePart.MatchString(s) && !strings.Contains(s, "..") }

func (s *Store) recordPath(key []string) (string, error) {
	if len(key) == 0 {
		return "", errors.New("store: empty record key")
	}
	for _, k := range key {
		if !ValidName(k) {
			return "", fault.Errorf(fault.Invalid, "%q is not a valid name (letters, digits, '_', '-', '.'; at most 128)", k)
		}
	}
	return filepath.Join(append([]string{s.dir, "records"}, key...)...) + ".json", nil
}

// PutRecord writes v as JSON under key, atomically.
func (s *Store) PutRecord(key []string, v any) error {
	p, err := s.recordPath(key)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), tmpPrefix+"*")
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("store: %w", err)
	}
	return syncDir(filepath.Dir(p))
}

// Record reads the record under key into v. A missing record is NotFound.
func (s *Store) Record(key []string, v any) error {
	p, err := s.recordPath(key)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return fault.Errorf(fault.NotFound, "no %s", strings.Join(key, "/"))
	}
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("store: record %s is corrupt: %w", strings.Join(key, "/"), err)
	}
	return nil
}

// DeleteRecord removes the record under key. A missing record is NotFound.
func (s *Store) DeleteRecord(key []string) error {
	p, err := s.recordPath(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); errors.Is(err, fs.ErrNotExist) {
		return fault.Errorf(fault.NotFound, "no %s", strings.Join(key, "/"))
	} else if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return syncDir(filepath.Dir(p))
}

// List names the records and folders directly under prefix (without the
// .json of records), sorted.
func (s *Store) List(prefix []string) ([]string, error) {
	for _, k := range prefix {
		if !ValidName(k) {
			return nil, fault.Errorf(fault.Invalid, "%q is not a valid name", k)
		}
	}
	entries, err := os.ReadDir(filepath.Join(append([]string{s.dir, "records"}, prefix...)...))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, tmpPrefix) {
			continue
		}
		if e.IsDir() {
			out = append(out, name)
		} else if n, ok := strings.CutSuffix(name, ".json"); ok {
			out = append(out, n)
		}
	}
	return out, nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}
