from __future__ import annotations

import pytest
from quickstart import baseline_model, load_data, train


@pytest.fixture(scope="session")
def data():
    return load_data()


@pytest.fixture(scope="session")
def model(data, mlgate_session):
    X_train, X_test, y_train, _ = data
    model = train(X_train, y_train)
    # The model this run would ship when every gate passes.
    mlgate_session.candidate(
        model,
        name="breast-cancer",
        example=X_test.head(5),
        data={"train": X_train, "test": X_test},
        card={
            "intended_use": "Second-opinion triage of breast tumour biopsies; not a diagnosis.",
            "limitations": "Trained on 341 Wisconsin cases; untested on other populations.",
            "owner": "quickstart@example.org",
            "license": "MIT",
        },
    )
    return model


@pytest.fixture(scope="session")
def champion(data):
    X_train, _, y_train, _ = data
    return baseline_model(X_train, y_train)
