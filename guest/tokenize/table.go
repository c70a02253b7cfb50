package tokenize

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The compiled forms of the vocabularies. A WebAssembly guest has no file
// system, so its vocabulary is embedded in the module, and it is parsed in
// _initialize, where every loop iteration pays the host's deadline check:
// parsing GPT-2's text files and filling Go maps takes about half a second
// there. Instead the lookup tables are built ahead of time (CompileBert,
// CompileGPT2, by go generate in bertvocab and gpt2vocab) into read-only
// blobs that the tokenizer reads in place: loading one checks its header
// and copies nothing.
//
// Every integer is a little-endian uint32. An empty hash slot is
// 0xFFFFFFFF rather than 0, so the tables hold no long runs of zero bytes
// (Go's wasm linker starts a new data segment at each run of 8, and each
// segment costs time at every instantiation).

const emptySlot = 0xFFFFFFFF

// vocabTable maps tokens (byte strings) to ids and back.
//
//	magic   "WGVOCAB1"
//	n       number of tokens
//	nslots  hash slots
//	offs    [n+1] start of token i in bytes (token i is bytes[offs[i]:offs[i+1]])
//	slots   [nslots] id, or emptySlot; open addressing, linear probing from
//	        fnv1a(token) % nslots; a token given twice maps to its last id
//	bytes   the tokens, concatenated
type vocabTable struct {
	n      int
	nslots uint32
	offs   string
	slots  string
	bytes  string
}

const vocabMagic = "WGVOCAB1"

func u32(s string, i int) uint32 {
	_ = s[i+3]
	return uint32(s[i]) | uint32(s[i+1])<<8 | uint32(s[i+2])<<16 | uint32(s[i+3])<<24
}

// fnv1a hashes prefix followed by key, without joining them.
func fnv1a[K string | []byte](prefix string, key K) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(prefix); i++ {
		h = (h ^ uint32(prefix[i])) * 16777619
	}
	for i := 0; i < len(key); i++ {
		h = (h ^ uint32(key[i])) * 16777619
	}
	return h
}

func (t *vocabTable) size() int { return t.n }

func (t *vocabTable) token(id int32) string {
	return t.bytes[u32(t.offs, 4*int(id)):u32(t.offs, 4*int(id)+4)]
}

// lookup is the id of the token prefix+key.
func lookup[K string | []byte](t *vocabTable, prefix string, key K) (int32, bool) {
	return lookupHashed(t, fnv1a(prefix, key), prefix, []byte(key))
}

// lookupHashed is lookup given fnv1a(prefix, key). It is the tokenizers'
// innermost step: comparisons are whole-string (memequal) rather than byte
// loops, which matters in a guest that pays for each loop iteration.
func lookupHashed(t *vocabTable, h uint32, prefix string, key []byte) (int32, bool) {
	want := len(prefix) + len(key)
	for i := h % t.nslots; ; {
		id := u32(t.slots, 4*int(i))
		if id == emptySlot {
			return 0, false
		}
		start, end := u32(t.offs, 4*int(id)), u32(t.offs, 4*int(id)+4)
		if int(end-start) == want {
			tok := t.bytes[start:end]
			if tok[:len(prefix)] == prefix && tok[len(prefix):] == string(key) {
				return int32(id), true
			}
		}
		if i++; i == t.nslots {
			i = 0
		}
	}
}

// compileVocab builds a vocabTable blob of tokens, ids by position.
func compileVocab(tokens []string) ([]byte, error) {
	n := len(tokens)
	if n >= emptySlot {
		return nil, errors.New("tokenize: too many tokens")
	}
	nslots := uint32(n + n/2 + 1) // load factor at most 2/3
	var size int
	for _, tok := range tokens {
		size += len(tok)
	}
	if size >= 1<<32 {
		return nil, errors.New("tokenize: the tokens are too long")
	}
	b := make([]byte, 0, len(vocabMagic)+8+4*(n+1)+4*int(nslots)+size)
	b = append(b, vocabMagic...)
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	b = binary.LittleEndian.AppendUint32(b, nslots)
	off := 0
	for _, tok := range tokens {
		b = binary.LittleEndian.AppendUint32(b, uint32(off))
		off += len(tok)
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(off))
	slots := make([]uint32, nslots)
	for i := range slots {
		slots[i] = emptySlot
	}
	for id, tok := range tokens {
		for i := fnv1a("", tok) % nslots; ; i = (i + 1) % nslots {
			if slots[i] == emptySlot || tokens[slots[i]] == tok {
				slots[i] = uint32(id)
				break
			}
		}
	}
	for _, s := range slots {
		b = binary.LittleEndian.AppendUint32(b, s)
	}
	for _, tok := range tokens {
		b = append(b, tok...)
	}
	return b, nil
}

// loadVocab reads a vocabTable at the start of s and returns what follows.
// It checks the header and the sizes, not every entry: a blob is trusted to
// be what compileVocab made (a corrupt one can make lookups fail or panic,
// not read outside s).
func loadVocab(s string) (vocabTable, string, error) {
	var t vocabTable
	if len(s) < len(vocabMagic)+8 || s[:len(vocabMagic)] != vocabMagic {
		return t, "", errors.New("tokenize: not a compiled vocabulary")
	}
	n, nslots := u32(s, 8), u32(s, 12)
	s = s[16:]
	if n == 0 || uint64(n) >= emptySlot || nslots <= n || uint64(len(s)) < 4*(uint64(n)+1)+4*uint64(nslots) {
		return t, "", fmt.Errorf("tokenize: compiled vocabulary of %d tokens and %d slots is truncated", n, nslots)
	}
	t.n, t.nslots = int(n), nslots
	t.offs, s = s[:4*(n+1)], s[4*(n+1):]
	t.slots, s = s[:4*nslots], s[4*nslots:]
	size := u32(t.offs, 4*int(n))
	if u32(t.offs, 0) != 0 || uint64(size) > uint64(len(s)) {
		return t, "", errors.New("tokenize: compiled vocabulary is truncated")
	}
	t.bytes, s = s[:size], s[size:]
	return t, s, nil
}

// mergeTable maps a pair of token ids to the rank of their merge and the
// id it makes.
//
//	magic   "WGMERGE1"
//	n       number of merges
//	nslots  hash slots
//	merges  [n] left id, right id, merged id, by rank
//	slots   [nslots] rank, or emptySlot; linear probing from
//	        pairHash(left, right) % nslots; a pair given twice keeps its
//	        first rank
type mergeTable struct {
	nslots uint32
	merges string
	slots  string
}

const mergeMagic = "WGMERGE1"

func pairHash(l, r int32) uint32 {
	h := uint64(uint32(l))<<32 | uint64(uint32(r))
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	return uint32(h)
}

func (m *mergeTable) lookup(l, r int32) (rank, into int32, ok bool) {
	for i := pairHash(l, r) % m.nslots; ; i = (i + 1) % m.nslots {
		k := u32(m.slots, 4*int(i))
		if k == emptySlot {
			return 0, 0, false
		}
		if int32(u32(m.merges, 12*int(k))) == l && int32(u32(m.merges, 12*int(k)+4)) == r {
			return int32(k), int32(u32(m.merges, 12*int(k)+8)), true
		}
	}
}

func compileMerges(merges [][3]int32) []byte {
	n := len(merges)
	nslots := uint32(2*n + 1) // load factor at most 1/2: most lookups miss
	b := make([]byte, 0, len(mergeMagic)+8+12*n+4*int(nslots))
	b = append(b, mergeMagic...)
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	b = binary.LittleEndian.AppendUint32(b, nslots)
	for _, m := range merges {
		for _, v := range m {
			b = binary.LittleEndian.AppendUint32(b, uint32(v))
		}
	}
	slots := make([]uint32, nslots)
	for i := range slots {
		slots[i] = emptySlot
	}
	for rank, m := range merges {
		for i := pairHash(m[0], m[1]) % nslots; ; i = (i + 1) % nslots {
			if slots[i] == emptySlot {
				slots[i] = uint32(rank)
				break
			}
			if o := merges[slots[i]]; o[0] == m[0] && o[1] == m[1] {
				break // the first rank counts
			}
		}
	}
	for _, s := range slots {
		b = binary.LittleEndian.AppendUint32(b, s)
	}
	return b
}

func loadMerges(s string) (mergeTable, string, error) {
	var m mergeTable
	if len(s) < len(mergeMagic)+8 || s[:len(mergeMagic)] != mergeMagic {
		return m, "", errors.New("tokenize: not compiled merges")
	}
	n, nslots := u32(s, 8), u32(s, 12)
	s = s[16:]
	if uint64(n) >= emptySlot || nslots <= n || uint64(len(s)) < 12*uint64(n)+4*uint64(nslots) {
		return m, "", fmt.Errorf("tokenize: compiled merges (%d, %d slots) are truncated", n, nslots)
	}
	m.nslots = nslots
	m.merges, s = s[:12*n], s[12*n:]
	m.slots, s = s[:4*nslots], s[4*nslots:]
	return m, s, nil
}
