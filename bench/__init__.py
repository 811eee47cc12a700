"""Benchmarks, run by `make bench`: each module offers ``run() -> list[Row]``."""
