"""Reports rendered from the JSON report: terminal and Markdown tables, failures, JUnit properties, HTML.

PYTEST_DONT_REWRITE: loaded on every pytest run; its asserts need no rewriting.
"""
