"""Function Compute for tests: the runtime's context object (:mod:`.context`, light: a console-style test
imports nothing else) and the fake InvokeFunction API of FC 3.0 and 2.0 (:mod:`.server`)."""
