"""The names of the totals counted in processes, and their histograms' buckets: written here
once, for the code that counts (observers) and the code that reads (collector)."""

from __future__ import annotations

MEETINGBAAS_CALLS = "portal_meetingbaas_calls_total"
MEETINGBAAS_CALL_SECONDS = "portal_meetingbaas_call_duration_seconds"
# From a fast GET to MEETINGBAAS_TIMEOUT's default (10 s) and past it.
CALL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

WEBHOOKS_RECEIVED = "portal_webhook_deliveries_received_total"
WEBHOOKS_PROCESSED = "portal_webhook_deliveries_processed_total"
WEBHOOK_LAG_SECONDS = "portal_webhook_delivery_lag_seconds"
# From "within a second" to the sweeper's re-queue of a lost delivery (2-5 min) and beyond.
LAG_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0)

BOT_ATTEMPTS = "portal_bot_attempts_total"

# Queued work a person asked for, found lost with a worker (calendars/actions/lost_refreshes.py).
TASKS_LOST = "portal_tasks_lost_total"

# Consent links ever made, used and revoked: kept in the writer's transaction (the states are
# read from them, exactly), not shown as such.
CONSENT_LINKS_MADE = "consent_links_made"
CONSENT_LINKS_USED = "consent_links_used"
CONSENT_LINKS_REVOKED = "consent_links_revoked"
