"""Test helpers shared by the suite and the benchmarks (real servers on 127.0.0.1, no mocks)."""
