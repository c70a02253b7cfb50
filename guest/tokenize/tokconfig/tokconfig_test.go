package tokconfig

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	c, err := Parse([]byte(` { "max_length" : 64, "cased": true, "side": "le\u0066t", "x": null } `), "max_length", "cased", "side", "x", "absent")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := c.Int("max_length", 1, 1, 100); n != 64 || err != nil {
		t.Errorf("max_length %d, %v", n, err)
	}
	if n, err := c.Int("absent", 7, 1, 100); n != 7 || err != nil {
		t.Errorf("absent %d, %v", n, err)
	}
	if n, err := c.Int("x", 7, 1, 100); n != 7 || err != nil {
		t.Errorf("null %d, %v", n, err)
	}
	if b, err := c.Bool("cased", false); !b || err != nil {
		t.Errorf("cased %v, %v", b, err)
	}
	if s, err := c.String("side", "right", "right", "left"); s != "left" || err != nil {
		t.Errorf("side %q, %v", s, err)
	}
	if _, err := c.Int("max_length", 1, 1, 10); err == nil || !strings.Contains(err.Error(), "from 1 to 10") {
		t.Errorf("range: %v", err)
	}
	if _, err := c.Bool("max_length", false); err == nil {
		t.Error("a number is a boolean")
	}
	if _, err := c.String("cased", "", "a"); err == nil {
		t.Error("a boolean is a string")
	}
	if _, err := c.Int("side", 0, 0, 1); err == nil {
		t.Error("a string is an integer")
	}
	empty, err := Parse([]byte("{}"))
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := empty.Int("max_length", 128, 1, 512); n != 128 {
		t.Errorf("default %d", n)
	}
	for _, tc := range []struct{ in, msg string }{
		{``, "want an object"},
		{`[]`, "want an object"},
		{`{"a": 1`, "want ',' or '}'"},
		{`{"a" 1}`, "want ':'"},
		{`{"a": {}}`, `"a" must be a number, boolean or string`},
		{`{"a": [1]}`, `"a" must be a number, boolean or string`},
		{`{"a": 1, "a": 2}`, "given twice"},
		{`{"b": 1}`, `unknown option "b" (this module takes "a")`},
		{`{"a": 1} x`, "want the end"},
		{`{"a": tru}`, "want a value"},
		{`{"a": -}`, "want a number"},
		{`{"a": "x\q"}`, "want a valid escape"},
		{`{"a": 1.5e}`, "want a number"},
	} {
		_, err := Parse([]byte(tc.in), "a")
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want %q", tc.in, err, tc.msg)
		}
	}
	c, _ = Parse([]byte(`{"a": 12.5}`), "a")
	if _, err := c.Int("a", 0, 0, 100); err == nil {
		t.Error("12.5 is an integer")
	}
}

// A module's configuration comes from a tenant's manifest: any bytes parse
// or fail, never panic, and what parses answers every typed read.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{"max_length":64,"cased":true}`, `{"max_length":null}`, `{"cased":"yes"}`, `{"x":1}`,
		`{"max_length":1e3}`, `{"max_length":-1}`, `{"max_length":"\u0031"}`, `{`, ``, `{"a":1,}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b, "max_length", "cased", "mode")
		if err != nil {
			return
		}
		_, _ = c.Int("max_length", 128, 3, 8192)
		_, _ = c.Bool("cased", false)
		_, _ = c.String("mode", "a", "a", "b")
	})
}
