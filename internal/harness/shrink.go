package harness

import "testing"

// A model-based test draws a random list of operations, turns it into steps
// (each action followed by what a model says the subject must report), and
// runs them. A random failure is rarely readable: dozens of operations, most
// of them beside the point. Shrinking removes operations while the steps
// they make still fail, so the report a student reads is a handful of steps
// long. The operations are shrunk, not the steps, because the expectations
// after an operation depend on every operation before it: the test's script
// function rebuilds them from the model each time.

// Fails runs steps on subject like Run, but reports the first failing step
// (its index and error) instead of failing a test; -1 and nil if all pass.
func Fails[T any](subject T, steps ...Step[T]) (int, error) {
	for i, step := range steps {
		if err := runStep(step, subject); err != nil {
			return i, err
		}
	}
	return -1, nil
}

// Shrink returns a shorter list of ops on which fails still reports true,
// given a list on which it does: it removes runs of ops, halving their
// length down to single ops, and then asks smaller for simpler forms of each
// op that remain (nil smaller skips that), keeping each that still fails.
// smaller must return ops strictly simpler than its argument, so that
// shrinking ends; a budget of calls to fails stops it anyway. Without the
// budget running out the result is 1-minimal: removing any one op makes it
// pass. fails must be deterministic.
func Shrink[Op any](ops []Op, fails func([]Op) bool, smaller func(Op) []Op) []Op {
	budget := 5000
	try := func(ops []Op) bool {
		budget--
		return budget >= 0 && fails(ops)
	}
	ops = removeRuns(ops, try)
	if smaller == nil {
		return ops
	}
	for changed := true; changed && budget > 0; {
		changed = false
		for i := range ops {
			for _, s := range smaller(ops[i]) {
				simpler := append(append(append([]Op(nil), ops[:i]...), s), ops[i+1:]...)
				if try(simpler) {
					ops, changed = simpler, true
					break
				}
			}
		}
		ops = removeRuns(ops, try)
	}
	return ops
}

// removeRuns is delta debugging's reduction to a 1-minimal list.
func removeRuns[Op any](ops []Op, fails func([]Op) bool) []Op {
	for n := len(ops) / 2; n >= 1; n /= 2 {
		for start := 0; start+n <= len(ops); {
			try := append(append([]Op(nil), ops[:start]...), ops[start+n:]...)
			if fails(try) {
				ops = try // try the same start again: new ops moved there
				continue
			}
			start += n
		}
	}
	return ops
}

// RunShrunk runs the steps script makes of ops on a fresh subject; if they
// fail, it shrinks ops (see Shrink) and fails t with the report of the
// shrunk list, prefixed by what (the round and seed, so it can be replayed).
// script must build the steps from ops alone, with a model run alongside to
// know what each expectation wants.
func RunShrunk[T, Op any](t testing.TB, what string, ops []Op, fresh func() T, script func([]Op) []Step[T], smaller func(Op) []Op) {
	t.Helper()
	fails := func(ops []Op) bool {
		i, _ := Fails(fresh(), script(ops)...)
		return i >= 0
	}
	if !fails(ops) {
		return
	}
	short := Shrink(ops, fails, smaller)
	steps := script(short)
	subject := fresh()
	i, err := Fails(subject, steps...)
	if i < 0 { // fails was not deterministic: report the list as drawn
		steps, subject = script(ops), fresh()
		i, err = Fails(subject, steps...)
		short = ops
	}
	report := Report(steps[:i], i, steps[i].Name, err)
	if d, ok := any(subject).(Describer); ok {
		if pic := describe(d); pic != "" {
			report = "\n" + pic + report
		}
	}
	t.Fatalf("%s: failed after %d operations; shrunk to %d:%s", what, len(ops), len(short), report)
}
