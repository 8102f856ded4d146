"""Notifications of CI runs and monitors (webhook, Slack, e-mail) and the retraining trigger
(docs/notifications.md). Plain Python: ``mlgate monitor`` and the gate-mode run both call it."""

from __future__ import annotations

from pytest_mlgate.notify.config import NotifyConfig
from pytest_mlgate.notify.message import Notification
from pytest_mlgate.notify.send import Outcome, send_all
from pytest_mlgate.notify.targets import Target
from pytest_mlgate.notify.trigger import run_on_degraded

__all__ = ["Notification", "NotifyConfig", "Outcome", "Target", "run_on_degraded", "send_all"]
