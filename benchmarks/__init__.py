"""The benchmark harness (``make bench``). Benchmarks are not tests: they measure and
write ``benchmarks/RESULTS.md``."""
