"""Reports: terminal tables, the JSON report, Markdown."""
