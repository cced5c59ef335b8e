"""Fault campaigns: seeded, bounded, repeatable runs of the connector under failure.

`python -m chaos [campaign …] --seed N` runs each campaign against the emulators and
writes `chaos/results/<campaign>.json` with the objects expected, synced, duplicated,
lost and sent to review. A campaign passes only with zero duplicates and zero losses.
"""

from chaos import paths

paths.install()
