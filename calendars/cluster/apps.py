from __future__ import annotations

from django.apps import AppConfig


class ClusterConfig(AppConfig):
    name = "calendars.cluster"
    label = "calendars_cluster"
    verbose_name = "Queue cluster"
