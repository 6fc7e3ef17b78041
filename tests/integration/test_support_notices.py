"""Support told what broke: a digest through a real SMTP server and a chat webhook on a local
HTTP server, each kind at most once an hour, with the link to the page that fixes it."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from calendars import tasks
from calendars.lib.error_reports import SecretSafeExceptionReporterFilter
from calendars.models import (
    Integration,
    Meeting,
    Outreach,
    RawCalendar,
    SupportNotice,
    WebhookDelivery,
)

pytestmark = pytest.mark.django_db


class Chat(BaseHTTPRequestHandler):
    """A Slack- or Teams-like incoming webhook: keeps each post; `status` is its answer."""

    posts: list[dict] = []
    status = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Chat.posts.append(json.loads(body))
        self.send_response(Chat.status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def chat(settings):
    Chat.posts, Chat.status = [], 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), Chat)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.SUPPORT_NOTIFY_WEBHOOK_URL = (
        f"http://127.0.0.1:{server.server_port}/hooks/T0-secret-path"
    )
    yield Chat
    server.shutdown()


@pytest.fixture
def told(settings, smtp, chat):
    settings.SUPPORT_NOTIFY_EMAIL = ["support@notetakers.example"]
    settings.PORTAL_PUBLIC_URL = "https://portal.example"
    return smtp


def broken_integrations(credential, n: int, message: str = "invalid_grant") -> list[Integration]:
    made = []
    for _ in range(n):
        raw = RawCalendar.objects.create(
            credential=credential, provider_id=f"cal{uuid.uuid4().hex}", listed_at=timezone.now()
        )
        made.append(
            Integration.objects.create(
                credential=credential,
                raw_calendar=raw,
                remote_id=uuid.uuid4(),
                api_version="v2",
                provider="google",
                status="error",
                error_message=message,
                status_changed_at=timezone.now(),
            )
        )
    return made


def test_a_surge_is_told_at_once_and_the_next_problems_an_hour_later(
    told, chat, credential, settings
):
    settings.WEBHOOK_SILENCE_MINUTES = 24 * 60  # the integrations are live, and quiet
    broken_integrations(credential, 20)

    assert tasks.notify_support() == "problems"

    (mail,) = told.inbox.messages
    text = told.inbox.text(mail)
    assert mail["To"] == "support@notetakers.example"
    assert "Refresh token refused or revoked: 20 integrations (surge: 20 in 10 minutes)" in text
    link = "https://portal.example" + reverse("admin:calendars_integration_changelist")
    assert link in text
    (post,) = chat.posts
    assert (
        "Refresh token refused or revoked: 20 integrations" in post["text"] and link in post["text"]
    )
    start = timezone.now()
    with time_machine.travel(start + timedelta(minutes=30)):
        broken_integrations(credential, 1, "Insufficient permission")
        assert tasks.notify_support() == "nothing new"
    with time_machine.travel(start + timedelta(minutes=61)):
        assert tasks.notify_support() == "problems"
    later = told.inbox.text(told.inbox.messages[-1])
    assert "- Permission denied: 1 integration\r\n" in later and "surge" not in later
    assert SupportNotice.objects.count() == 2


def test_owners_who_did_not_answer_are_told(told, credential):
    Outreach.objects.create(
        credential=credential,
        reason="token_refused",
        since=timezone.now(),
        state=Outreach.State.NO_ANSWER,
        ended_at=timezone.now(),
    )

    assert tasks.notify_support() == "no_answer"

    text = told.inbox.text(told.inbox.messages[0])
    assert "1 account owner did not answer re-consent outreach" in text
    assert reverse("admin:calendars_outreach_changelist") + "?state__exact=no_answer" in text


def test_silence_from_meeting_baas_while_integrations_are_live_is_told(told, credential, settings):
    settings.WEBHOOK_SILENCE_MINUTES = 30
    (live,) = broken_integrations(credential, 1)
    Integration.objects.filter(pk=live.pk).update(
        status="active", problem_code="", created_at=timezone.now() - timedelta(hours=2)
    )
    WebhookDelivery.objects.create(
        api_version="v2", event="calendar.updated", delivery_id="d-1", payload={}
    )
    assert tasks.notify_support() == "nothing new"

    with time_machine.travel(timezone.now() + timedelta(minutes=31)):
        assert tasks.notify_support() == "webhook_silence"

    text = told.inbox.text(told.inbox.messages[0])
    assert "No webhook from Meeting BaaS for 30 minutes while integrations are live" in text


def test_meetings_at_risk_with_no_fix_under_way_are_told(told, credential):
    (broken,) = broken_integrations(credential, 1)
    starts = timezone.now() + timedelta(minutes=90)
    Meeting.objects.create(
        integration=broken,
        remote_event_id=uuid.uuid4(),
        title="Board meeting",
        starts_at=starts,
        ends_at=starts + timedelta(minutes=30),
        synced_at=timezone.now(),
    )
    SupportNotice.objects.create(kind=SupportNotice.Kind.PROBLEMS, text="told", url="x")

    assert tasks.notify_support() == "at_risk"
    text = told.inbox.text(told.inbox.messages[0])
    assert "1 meeting in the next 2 hours at risk, no fix under way" in text

    Outreach.objects.create(credential=credential, reason="token_refused", since=timezone.now())
    SupportNotice.objects.filter(kind="at_risk").update(sent_at=timezone.now() - timedelta(hours=2))
    assert tasks.notify_support() == "nothing new"  # the owner is being asked: a fix under way


def test_a_refusing_mail_server_and_chat_are_recorded_never_raised(told, chat, credential, caplog):
    told.inbox.mode = "refuse"
    chat.status = 500
    broken_integrations(credential, 1)

    tasks.notify_support()

    notice = SupportNotice.objects.get()
    assert notice.error.startswith("e-mail: SMTP") and "webhook: HTTPError" in notice.error
    assert "T0-secret-path" not in notice.error + caplog.text
    shown = SecretSafeExceptionReporterFilter().get_safe_settings()
    assert "T0-secret-path" not in str(shown["SUPPORT_NOTIFY_WEBHOOK_URL"])


@pytest.mark.parametrize("role", ["Admin", "Support", "Auditor"])
def test_every_role_reads_the_notices(told, credential, role_client, role):
    broken_integrations(credential, 1)
    tasks.notify_support()

    page = role_client(role).get(reverse("admin:calendars_supportnotice_changelist"))

    assert page.status_code == 200 and "Problems appeared or surged" in page.content.decode()


def test_nothing_is_sent_when_no_destination_is_set(smtp, credential, settings):
    settings.SUPPORT_NOTIFY_EMAIL, settings.SUPPORT_NOTIFY_WEBHOOK_URL = [], ""
    broken_integrations(credential, 1)

    assert tasks.notify_support() == "nothing new"
    assert not smtp.inbox.messages and not SupportNotice.objects.exists()


def test_without_a_mailer_the_chat_still_hears_and_the_notice_says_why(
    told, chat, credential, settings
):
    settings.MAILERS = {}
    broken_integrations(credential, 1)

    tasks.notify_support()

    assert len(chat.posts) == 1 and not told.inbox.messages
    assert SupportNotice.objects.get().error == "e-mail: no mailer configured (EMAIL_URL)"
