package auth

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/wasmgate/wasmgate/hostfuncs/fault"
)

// Scope is a right a key grants.
type Scope string

const (
	Infer  Scope = "infer"
	Upload Scope = "upload"
	Admin  Scope = "admin"
)

var scopes = []Scope{Infer, Upload, Admin}

// Principal is who a request acts for.
type Principal struct {
	Tenant string
	Scopes []Scope
}

// Can reports whether p holds scope s.
func (p Principal) Can(s Scope) bool { return slices.Contains(p.Scopes, s) }

type key struct {
	digest [32]byte
	Principal
}

// Keys is the set of valid API keys. The zero value holds none.
type Keys struct {
	keys []key
}

// MinKeyLength is the shortest key accepted: 128 bits of hex.
const MinKeyLength = 32

var tenantRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$`)

// Parse reads keys, one per line or separated by ';': the key, the tenant,
// and comma-separated scopes, separated by spaces. '#' starts a comment.
//
//	3f9a...e1  acme  infer,upload
func Parse(text string) (*Keys, error) {
	ks := &Keys{}
	seen := map[[32]byte]bool{}
	sc := bufio.NewScanner(strings.NewReader(strings.ReplaceAll(text, ";", "\n")))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		// Errors name the entry, never the key itself.
		if len(f) != 3 {
			return nil, fmt.Errorf("key entry %d: want KEY TENANT SCOPES, got %d fields", n, len(f))
		}
		if len(f[0]) < MinKeyLength {
			return nil, fmt.Errorf("key entry %d: the key is %d characters; use at least %d (e.g. openssl rand -hex 32)", n, len(f[0]), MinKeyLength)
		}
		if !tenantRE.MatchString(f[1]) {
			return nil, fmt.Errorf("key entry %d: tenant %q is not a name (letters, digits, '_', '-', '.'; at most 64)", n, f[1])
		}
		k := key{digest: sha256.Sum256([]byte(f[0])), Principal: Principal{Tenant: f[1]}}
		for _, s := range strings.Split(f[2], ",") {
			sc := Scope(strings.TrimSpace(s))
			if !slices.Contains(scopes, sc) {
				return nil, fmt.Errorf("key entry %d: scope %q is not one of infer, upload, admin", n, s)
			}
			if !slices.Contains(k.Scopes, sc) {
				k.Scopes = append(k.Scopes, sc)
			}
		}
		if seen[k.digest] {
			return nil, fmt.Errorf("key entry %d: the same key is listed twice", n)
		}
		seen[k.digest] = true
		ks.keys = append(ks.keys, k)
	}
	return ks, sc.Err()
}

// Enabled reports whether any key is configured. Without keys, routes that
// need upload or admin rights are disabled, not open.
func (ks *Keys) Enabled() bool { return ks != nil && len(ks.keys) > 0 }

// Tenants lists the tenants that have keys.
func (ks *Keys) Tenants() []string {
	var out []string
	for _, k := range ks.keys {
		if !slices.Contains(out, k.Tenant) {
			out = append(out, k.Tenant)
		}
	}
	return out
}

// Authenticate checks an Authorization header value for scope. No header is
// Unauthenticated (401); a key that is not valid, or lacks the scope, is
// Forbidden (403). Every configured key is compared, in constant time, so
// the time taken says nothing about which keys exist.
func (ks *Keys) Authenticate(header string, scope Scope) (Principal, error) {
	token, ok := strings.CutPrefix(header, "Bearer ")
	if !ok || strings.TrimSpace(token) == "" {
		return Principal{}, fault.Errorf(fault.Unauthenticated, "this endpoint needs an API key: send Authorization: Bearer <key>")
	}
	d := sha256.Sum256([]byte(strings.TrimSpace(token)))
	found := -1
	for i := range ks.keys {
		if subtle.ConstantTimeCompare(d[:], ks.keys[i].digest[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return Principal{}, fault.Errorf(fault.Forbidden, "the API key is not valid")
	}
	p := ks.keys[found].Principal
	if !p.Can(scope) {
		return Principal{}, fault.Errorf(fault.Forbidden, "the API key of tenant %s lacks the %q scope", p.Tenant, scope)
	}
	return p, nil
}
