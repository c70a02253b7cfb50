// Package tokconfig reads the configuration of the text modules (bertpre,
// gpt2pre): the JSON object a model's manifest gives the stage, which the
// module gets from sdk.Config. Those objects are flat (numbers, booleans
// and strings), so this small reader replaces encoding/json, which would
// add about half a megabyte of reflection code to each module.
package tokconfig

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Config is a parsed flat JSON object.
type Config struct {
	vals map[string]value
}

type value struct {
	kind byte // 'n' number, 'b' boolean, 's' string, 'z' null
	num  string
	b    bool
	s    string
}

// Parse reads a JSON object whose members are numbers, booleans, strings
// or null, and refuses any member not in known (a misspelt option should
// not be silently ignored).
func Parse(b []byte, known ...string) (Config, error) {
	p := parser{s: string(b)}
	c := Config{vals: map[string]value{}}
	if !p.consume('{') {
		return c, p.err("an object")
	}
	for first := true; ; first = false {
		if p.consume('}') {
			break
		}
		if !first && !p.consume(',') {
			return c, p.err("',' or '}'")
		}
		p.space()
		name, err := p.str()
		if err != nil {
			return c, err
		}
		if !p.consume(':') {
			return c, p.err("':'")
		}
		v, err := p.value(name)
		if err != nil {
			return c, err
		}
		if _, dup := c.vals[name]; dup {
			return c, fmt.Errorf("config: %q is given twice", name)
		}
		if !slices.Contains(known, name) {
			return c, fmt.Errorf("config: unknown option %q (this module takes %s)", name, quoted(known))
		}
		c.vals[name] = v
	}
	if p.space(); p.i != len(p.s) {
		return c, p.err("the end")
	}
	return c, nil
}

func quoted(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

// Int is the integer option name, def when absent or null, and an error
// unless it is an integer from lo to hi.
func (c Config) Int(name string, def, lo, hi int) (int, error) {
	v, ok := c.vals[name]
	if !ok || v.kind == 'z' {
		return def, nil
	}
	n, err := strconv.Atoi(v.num)
	if v.kind != 'n' || err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("config: %q must be an integer from %d to %d", name, lo, hi)
	}
	return n, nil
}

// Bool is the boolean option name, def when absent or null.
func (c Config) Bool(name string, def bool) (bool, error) {
	v, ok := c.vals[name]
	if !ok || v.kind == 'z' {
		return def, nil
	}
	if v.kind != 'b' {
		return false, fmt.Errorf("config: %q must be true or false", name)
	}
	return v.b, nil
}

// String is the string option name, def when absent or null, and an error
// unless it is one of allowed.
func (c Config) String(name, def string, allowed ...string) (string, error) {
	v, ok := c.vals[name]
	if !ok || v.kind == 'z' {
		return def, nil
	}
	if v.kind != 's' || !slices.Contains(allowed, v.s) {
		return "", fmt.Errorf("config: %q must be one of %s", name, quoted(allowed))
	}
	return v.s, nil
}

type parser struct {
	s string
	i int
}

func (p *parser) space() {
	for p.i < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *parser) consume(c byte) bool {
	p.space()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *parser) err(want string) error {
	return fmt.Errorf("config: not a JSON object of options: want %s at offset %d", want, p.i)
}

func (p *parser) value(name string) (value, error) {
	p.space()
	rest := p.s[p.i:]
	switch {
	case strings.HasPrefix(rest, "true"):
		p.i += 4
		return value{kind: 'b', b: true}, nil
	case strings.HasPrefix(rest, "false"):
		p.i += 5
		return value{kind: 'b'}, nil
	case strings.HasPrefix(rest, "null"):
		p.i += 4
		return value{kind: 'z'}, nil
	case strings.HasPrefix(rest, `"`):
		s, err := p.str()
		return value{kind: 's', s: s}, err
	case rest != "" && (rest[0] == '-' || rest[0] >= '0' && rest[0] <= '9'):
		j := 0
		for j < len(rest) && strings.IndexByte("+-.eE0123456789", rest[j]) >= 0 {
			j++
		}
		if _, err := strconv.ParseFloat(rest[:j], 64); err != nil {
			return value{}, p.err("a number")
		}
		p.i += j
		return value{kind: 'n', num: rest[:j]}, nil
	case rest != "" && (rest[0] == '{' || rest[0] == '['):
		return value{}, fmt.Errorf("config: %q must be a number, boolean or string", name)
	}
	return value{}, p.err("a value")
}

// str reads a JSON string at p.i.
func (p *parser) str() (string, error) {
	if p.i >= len(p.s) || p.s[p.i] != '"' {
		return "", p.err("a string")
	}
	p.i++
	var b []byte
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return string(b), nil
		case c < 0x20:
			return "", p.err("no control character in a string")
		case c == '\\':
			if p.i+1 >= len(p.s) {
				return "", p.err("an escape")
			}
			e := p.s[p.i+1]
			p.i += 2
			switch e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'n':
				b = append(b, '\n')
			case 't':
				b = append(b, '\t')
			case 'r':
				b = append(b, '\r')
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'u':
				if p.i+4 > len(p.s) {
					return "", p.err("four hex digits")
				}
				v, err := strconv.ParseUint(p.s[p.i:p.i+4], 16, 16)
				if err != nil {
					return "", p.err("four hex digits")
				}
				p.i += 4
				b = utf8.AppendRune(b, rune(v))
			default:
				return "", p.err("a valid escape")
			}
		default:
			b = append(b, c)
			p.i++
		}
	}
	return "", p.err("the end of a string")
}
