"""On-demand benchmarks (`make bench`): ratios and counts, written to `bench/results/*.json`.

Never run as tests: they take minutes, use real time and real processes, and report
numbers against the goals of issue 7 instead of asserting them.
"""
