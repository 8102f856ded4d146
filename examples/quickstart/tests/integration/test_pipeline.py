"""Integration gate (by path): the pipeline end to end, with behavioural checks."""

import numpy as np


def test_pipeline_trains_and_predicts_every_row(model, data, mlgate):
    _, X_test, _, _ = data
    proba = model.predict_proba(X_test)
    assert proba.shape == (len(X_test), 2)
    assert np.allclose(proba.sum(axis=1), 1.0)
    mlgate.record("rows_scored", len(X_test))


def test_predictions_are_deterministic(model, data, mlgate):
    mlgate.assert_deterministic(model, data[1])


def test_tiny_measurement_noise_does_not_flip_predictions(model, data, mlgate):
    _, X_test, _, _ = data
    # 0.1% multiplicative noise: at most 5% of rows may flip (upper 95% bound).
    mlgate.assert_invariant(
        model, X_test, lambda X: X * (1 + 0.001 * mlgate.rng.standard_normal(X.shape)), max_rate=0.05
    )


def test_test_data_has_not_drifted_from_training(data, mlgate):
    X_train, X_test, _, _ = data
    mlgate.check_drift(X_train, X_test)
