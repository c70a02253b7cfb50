// Package auth checks API keys. Each key belongs to a tenant and carries
// scopes: infer (run models), upload (store modules and models), admin (load,
// unload and list the repository). Keys come from a file or the environment
// (docs/AUTH.md); they are kept only as SHA-256 digests and compared in
// constant time, so neither memory dumps nor response timing reveal them.
package auth
