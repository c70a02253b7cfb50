// Package fault is wasmgate's one error vocabulary. Every layer classifies the
// errors it originates with a Kind; the gateway maps kinds to HTTP statuses in
// one place. An error without a kind is Internal.
package fault
