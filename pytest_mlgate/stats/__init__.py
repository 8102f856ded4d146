"""Numbers only: metric registry, intervals, comparisons, drift. No pytest import here."""
