"""Performance gate: latency, throughput, memory and size budgets."""

import pytest


# tolerance=1.0: against the baseline, fail only when a reading is twice as bad (shared CI runners are noisy).
@pytest.mark.performance(latency_p95_ms="<= 50", peak_memory_mb="<= 200", tolerance=1.0, key="single-row")
def test_single_row_latency(model, data, mlgate):
    row = data[1].head(1)
    mlgate.benchmark(model.predict_proba, row, max_time=0.5)


@pytest.mark.performance(throughput_rps=">= 1000", tolerance=1.0, key="batch")
def test_batch_throughput(model, data, mlgate):
    batch = data[1]
    mlgate.benchmark(model.predict_proba, batch, rows=True, max_time=0.5)


@pytest.mark.performance(model_size_mb="<= 50", tolerance=0.05, key="size")
def test_model_size(model, mlgate):
    mlgate.measure_size(model)
