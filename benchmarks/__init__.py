"""`make bench`: the figures of the design's benchmarks.md, each a ratio against a baseline of the same run."""
