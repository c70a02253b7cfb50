package tokenize

import (
	"strings"
	"testing"
)

func TestVocabTable(t *testing.T) {
	tokens := []string{"[UNK]", "a", "ab", "##b", "", "a"} // "a" twice: the last id wins
	blob, err := compileVocab(tokens)
	if err != nil {
		t.Fatal(err)
	}
	v, rest, err := loadVocab(string(blob) + "tail")
	if err != nil || rest != "tail" {
		t.Fatalf("load: %v, rest %q", err, rest)
	}
	for id, tok := range tokens {
		if got := v.token(int32(id)); got != tok {
			t.Errorf("token(%d) = %q, want %q", id, got, tok)
		}
	}
	for _, tc := range []struct {
		prefix, key string
		id          int32
		ok          bool
	}{
		{"", "a", 5, true}, {"", "ab", 2, true}, {"##", "b", 3, true}, {"", "##b", 3, true}, {"", "", 4, true},
		{"", "b", 0, false}, {"##", "a", 0, false}, {"", "abc", 0, false}, {"#", "#b", 3, true},
	} {
		id, ok := lookup(&v, tc.prefix, []byte(tc.key))
		if id != tc.id || ok != tc.ok {
			t.Errorf("lookup(%q, %q) = %d, %v; want %d, %v", tc.prefix, tc.key, id, ok, tc.id, tc.ok)
		}
		if id2, ok2 := lookup(&v, tc.prefix, tc.key); id2 != id || ok2 != ok {
			t.Errorf("lookup of a string differs from lookup of bytes for %q", tc.key)
		}
	}
	// No run of 8 zero bytes: Go's wasm linker would start a data segment.
	if strings.Contains(string(blob), strings.Repeat("\x00", 8)) {
		t.Error("the compiled table has a run of 8 zero bytes")
	}
	for _, bad := range []string{"", "WGVOCAB1", "XXVOCAB1" + string(blob[8:]), string(blob[:len(blob)-1]), string(blob[:40])} {
		if _, _, err := loadVocab(bad); err == nil {
			t.Errorf("a bad table of %d bytes loads", len(bad))
		}
	}
	if _, err := LoadBert(string(blob)+"x", BertOptions{}); err == nil {
		t.Error("trailing bytes load")
	}
}

func TestMergeTable(t *testing.T) {
	merges := [][3]int32{{1, 2, 10}, {2, 3, 11}, {1, 2, 12}, {10, 3, 13}} // (1, 2) twice: the first rank wins
	blob := compileMerges(merges)
	m, rest, err := loadMerges(string(blob))
	if err != nil || rest != "" {
		t.Fatalf("load: %v, rest %q", err, rest)
	}
	for _, tc := range []struct {
		l, r, rank, into int32
		ok               bool
	}{{1, 2, 0, 10, true}, {2, 3, 1, 11, true}, {10, 3, 3, 13, true}, {2, 1, 0, 0, false}, {3, 10, 0, 0, false}} {
		rank, into, ok := m.lookup(tc.l, tc.r)
		if rank != tc.rank || into != tc.into || ok != tc.ok {
			t.Errorf("lookup(%d, %d) = %d, %d, %v", tc.l, tc.r, rank, into, ok)
		}
	}
	for _, bad := range []string{"", "WGMERGE1", string(blob[:len(blob)-1])} {
		if _, _, err := loadMerges(bad); err == nil {
			t.Errorf("bad merges of %d bytes load", len(bad))
		}
	}
	if _, err := LoadGPT2("WGGPT2B1"); err == nil {
		t.Error("an empty GPT-2 table loads")
	}
	if _, err := LoadGPT2("nonsense"); err == nil {
		t.Error("nonsense loads")
	}
}
