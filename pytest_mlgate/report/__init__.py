"""Reports: terminal tables, the JSON report, Markdown.

PYTEST_DONT_REWRITE: loaded on every pytest run; its asserts need no rewriting.
"""
