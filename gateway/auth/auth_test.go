package auth

import (
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/fault"
)

const (
	keyA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	keyB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func TestAuthenticate(t *testing.T) {
	ks, err := Parse("# tenants\n" + keyA + " acme infer,upload\n" + keyB + "  globex admin,infer # ops\n")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		header string
		scope  Scope
		tenant string
		kind   fault.Kind
	}{
		{"Bearer " + keyA, Infer, "acme", -1},
		{"Bearer " + keyA, Upload, "acme", -1},
		{"Bearer " + keyA, Admin, "", fault.Forbidden}, // valid key, wrong scope
		{"Bearer " + keyB, Admin, "globex", -1},
		{"Bearer " + keyB + "x", Infer, "", fault.Forbidden}, // wrong key
		{"", Infer, "", fault.Unauthenticated},
		{"Basic " + keyA, Infer, "", fault.Unauthenticated},
		{"Bearer ", Infer, "", fault.Unauthenticated},
	}
	for _, c := range cases {
		is := is.New(t)
		p, err := ks.Authenticate(c.header, c.scope)
		if c.kind < 0 {
			is.NoErr(err)
			is.Equal(p.Tenant, c.tenant)
			continue
		}
		is.Equal(fault.KindOf(err), c.kind)
		is.True(!strings.Contains(err.Error(), keyA)) // messages never echo keys
	}
	is := is.New(t)
	is.True(ks.Enabled())
	is.Equal(ks.Tenants(), []string{"acme", "globex"})
	var none *Keys
	is.True(!none.Enabled())
}

func TestParseErrors(t *testing.T) {
	cases := []struct{ text, msg string }{
		{"short acme infer", "at least 32"},
		{keyA + " acme", "want KEY TENANT SCOPES"},
		{keyA + " acme write", `scope "write"`},
		{keyA + " ../x infer", "tenant"},
		{keyA + " a infer;" + keyA + " b infer", "twice"},
	}
	for _, c := range cases {
		_, err := Parse(c.text)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("Parse(%q) = %v, want an error mentioning %q", c.text, err, c.msg)
		}
		if err != nil && strings.Contains(err.Error(), keyA) {
			t.Errorf("error %q echoes the key", err)
		}
	}
	ks, err := Parse(keyA + " a infer;" + keyB + " b upload")
	if err != nil || len(ks.keys) != 2 {
		t.Fatalf("';'-separated keys: %v", err)
	}
}
