"""The pure core: money, domain model, mapping, plans, retry policy, signature maths.

Nothing in this package performs I/O, reads the clock or draws randomness by itself;
callers inject time, ids and randomness. import-linter enforces that no framework or
I/O library is imported from here.
"""
