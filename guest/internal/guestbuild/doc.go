// Package guestbuild builds the built-in guest modules. The buildguests
// command and the staleness test in package guest both use it, so the bytes
// the test expects are the bytes the command writes.
package guestbuild
