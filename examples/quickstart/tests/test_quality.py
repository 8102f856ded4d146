"""Validation gate: quality with confidence intervals, against the baseline and the champion."""

import pytest


@pytest.mark.validation(accuracy=">= 0.93", roc_auc=">= 0.97", log_loss="<= 0.25", ece="<= 0.1",
                        margin={"accuracy": 0.02}, key="holdout")
def test_holdout_quality(model, data, mlgate):
    _, X_test, _, y_test = data
    result = mlgate.evaluate(model, X_test, y_test)
    assert result.measurements  # accuracy, roc_auc, log_loss and ece, each with a 95% interval


@pytest.mark.validation(accuracy=">= 0.90", key="champion")
def test_not_worse_than_the_champion(model, champion, data, mlgate):
    _, X_test, _, y_test = data
    mlgate.evaluate(model, X_test, y_test, against=champion)
