"""django-q2's lists re-run nothing and change nothing, whoever posts to them directly."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone
from django_q.models import OrmQ, Schedule, Task
from django_q.signing import SignedPackage

from calendars.models import Heartbeat

ROLES = ["Auditor", "Support", "Admin", "superuser"]


def stored_task(*, success: bool) -> Task:
    """A finished heartbeat: re-running it would leave a Heartbeat row, which nothing else does."""
    now = timezone.now()
    return Task.objects.create(
        id=uuid.uuid4().hex,
        name=f"stored-{'ok' if success else 'failed'}",
        func="calendars.tasks.heartbeat",
        args=(),
        kwargs={},
        started=now,
        stopped=now,
        success=success,
        result="node-1" if success else "boom",
    )


@pytest.fixture
def login(role_client, client):
    def as_role(role: str):
        if role != "superuser":
            return role_client(role)
        root = get_user_model().objects.create_superuser("root", password="pw")
        client.force_login(root)
        return client

    return as_role


def action_choices(response) -> set[str]:
    form = response.context.get("action_form") if response.context else None
    return {value for value, _ in form.fields["action"].choices if value} if form else set()


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("kind", ["failure", "success"])
def test_a_posted_resubmit_reruns_nothing(login, role, kind):
    task = stored_task(success=kind == "success")
    client = login(role)

    response = client.post(
        reverse(f"admin:django_q_{kind}_changelist"),
        {"action": "resubmit_task", "_selected_action": [task.pk], "index": 0},
    )

    assert response.status_code in (200, 302, 403)
    assert list(Task.objects.values_list("pk", flat=True)) == [task.pk]  # the failure stays
    assert not OrmQ.objects.exists()
    assert not Heartbeat.objects.exists()


@pytest.mark.parametrize("role", ["Auditor", "Support"])
def test_support_and_auditors_cannot_see_the_task_lists(login, role):
    client = login(role)

    for name in ("success", "failure", "schedule", "ormq"):
        assert client.get(reverse(f"admin:django_q_{name}_changelist")).status_code == 403, name
    assert b"/admin/django_q/" not in client.get(reverse("admin:index")).content


@pytest.mark.parametrize("role", ["Admin", "superuser"])
def test_admins_see_the_task_lists_without_any_action(login, role):
    stored_task(success=True)
    stored_task(success=False)
    client = login(role)

    for name in ("success", "failure", "schedule", "ormq"):
        page = client.get(reverse(f"admin:django_q_{name}_changelist"))
        assert page.status_code == 200, name
        assert action_choices(page) == set(), name


@pytest.mark.parametrize("role", ["Admin", "superuser"])
def test_a_stored_task_cannot_be_edited_or_deleted(login, role):
    task = stored_task(success=False)
    client = login(role)
    change = reverse("admin:django_q_failure_change", args=[task.pk])

    assert client.get(change).status_code == 200  # readable
    assert client.post(change, {"func": "platform.node"}).status_code == 403
    delete = reverse("admin:django_q_failure_delete", args=[task.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert Task.objects.get(pk=task.pk).func == "calendars.tasks.heartbeat"


@pytest.mark.parametrize("role", ROLES)
def test_nobody_adds_edits_or_deletes_a_schedule(login, role):
    schedule = Schedule.objects.get(func="calendars.tasks.heartbeat")
    count = Schedule.objects.count()
    client = login(role)
    form = {
        "name": "node",
        "func": "platform.node",
        "schedule_type": "I",
        "minutes": 1,
        "repeats": -1,
        "next_run_0": "2020-01-01",
        "next_run_1": "00:00:00",
    }

    add = client.post(reverse("admin:django_q_schedule_add"), form)
    edit = client.post(reverse("admin:django_q_schedule_change", args=[schedule.pk]), form)
    delete = client.post(
        reverse("admin:django_q_schedule_delete", args=[schedule.pk]), {"post": "yes"}
    )

    assert (add.status_code, edit.status_code, delete.status_code) == (403, 403, 403)
    assert Schedule.objects.count() == count
    assert Schedule.objects.get(pk=schedule.pk).func == "calendars.tasks.heartbeat"


@pytest.mark.parametrize("role", ROLES)
def test_nobody_edits_or_deletes_a_queued_task(login, role):
    payload = {"id": uuid.uuid4().hex, "name": "queued", "func": "calendars.tasks.heartbeat"}
    queued = OrmQ.objects.create(
        key="portal",
        payload=SignedPackage.dumps({**payload, "args": (), "kwargs": {}}),
        lock=timezone.now(),
    )
    client = login(role)

    edit = client.post(
        reverse("admin:django_q_ormq_change", args=[queued.pk]),
        {"key": "another-cluster", "lock_0": "2099-01-01", "lock_1": "00:00:00"},
    )
    delete = client.post(reverse("admin:django_q_ormq_delete", args=[queued.pk]), {"post": "yes"})

    assert (edit.status_code, delete.status_code) == (403, 403)
    assert OrmQ.objects.get(pk=queued.pk).key == "portal"
