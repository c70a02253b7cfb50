// Package registry tracks the lifecycle of models (unavailable, loading,
// ready, unloading) and which of them are resident in memory.
//
// Residency is decided by a ristretto cache whose cost is each model's real
// memory, but ristretto is not the source of truth (DESIGN.md §4): it applies
// sets asynchronously, rejects items through its admission policy, evicts by
// sampled LFU and never pins. So the registry keeps the lifecycle itself,
// treats a model ristretto rejected or evicted as not resident, and releases
// a model's resources exactly once, after its last in-flight request.
package registry
