"""Values from Meeting BaaS (API answers, webhooks) made fit to store and to order news by.

Remote text can be of any length and hold characters no column takes (PostgreSQL refuses a
value longer than its column, and U+0000 anywhere); remote times can lie in the future, where
they would make every later refresh or webhook look older and be ignored.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

logger = logging.getLogger(__name__)

# Remote text in a TextField (status messages, sync errors, error reasons) is kept to this many
# characters: enough for any message a person reads, small enough for every page and export.
REMOTE_TEXT_MAX_CHARS = 2000
CUT_MARK = "…"


def fit(model: type[models.Model], field_name: str, text: str | None) -> str:
    """`text` as `model.field_name` can store it: U+0000 replaced, cut to the column's length.

    A TextField, which has no length, takes REMOTE_TEXT_MAX_CHARS. A cut ends with "…", so a
    reader knows there was more.
    """
    text = (text or "").replace("\x00", "\ufffd")
    limit = model._meta.get_field(field_name).max_length or REMOTE_TEXT_MAX_CHARS
    if len(text) <= limit:
        return text
    return text[: limit - len(CUT_MARK)] + CUT_MARK


def lies_ahead(moment: datetime) -> bool:
    """Whether `moment` is later than now by more than MEETINGBAAS_CLOCK_SKEW_SECONDS."""
    return moment > timezone.now() + timedelta(seconds=settings.MEETINGBAAS_CLOCK_SKEW_SECONDS)


def no_later_than_now(moment: datetime | None) -> datetime | None:
    """`moment`, or now when it lies further ahead than clocks can disagree.

    Clamped rather than refused: the news comes authenticated and may well be true (only its
    clock is wrong), and as now it still orders correctly against anything that comes later.
    """
    if moment is None or not lies_ahead(moment):
        return moment
    logger.warning("remote time %s lies in the future: taken as now", moment.isoformat())
    return timezone.now()
