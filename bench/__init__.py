"""Benchmarks of fitbeam's hot paths; each module runs with `python -m bench.<name>`."""
