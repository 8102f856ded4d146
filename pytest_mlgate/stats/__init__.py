"""Numbers only: known metric names, metrics, intervals, comparisons, drift. No pytest import here.

PYTEST_DONT_REWRITE: loaded on every pytest run; its asserts need no rewriting.
"""
