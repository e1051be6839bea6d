"""Webhook calls as Standard Webhooks: signed so that the ``standardwebhooks`` package verifies
them, with both secrets during a rotation's overlap, and secrets sealed at rest."""

from __future__ import annotations

import base64
import json
import stat
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from client.protocol import schemas
from client.protocol.times import utc_now
from client.protocol.vocabulary import EventType
from server.domain.events import WebhookDisabled
from server.domain.webhooks import (
    SigningSecrets,
    body,
    is_secret,
    new_secret,
    outcome_of,
    signed_headers,
)
from server.secrets import SecretBox, SecretsError

EVENT = schemas.Event(
    channel="water-roads",
    seq=7,
    type=EventType.NOTICE_SENT,
    at=datetime(2026, 11, 21, 9, 30, 0, 123000, tzinfo=UTC),
    actor=schemas.Actor(party="water", operator="ana"),
    data={"notice": "84a10a7f-1ef3-4cab-9006-ddf3c09c457f", "subject": "Mill Lane — dig"},
)
MSG_ID = str(uuid.UUID("0b6f3c2e-4a1d-5e8f-9a0b-1c2d3e4f5a6b"))


def test_a_new_secret_is_whsec_and_32_random_bytes_in_base64() -> None:
    secret = new_secret()

    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert is_secret(secret)
    assert new_secret() != secret
    assert not is_secret("whsec_" + base64.b64encode(b"short").decode())
    assert not is_secret("hl_" + secret)


def test_a_call_signed_by_the_server_verifies_with_the_standardwebhooks_package() -> None:
    secret = new_secret()
    payload = body(EVENT)

    headers = signed_headers(MSG_ID, utc_now(), payload, [secret])

    assert Webhook(secret).verify(payload, headers) == json.loads(payload)
    assert headers["webhook-id"] == MSG_ID
    assert headers["webhook-signature"].startswith("v1,")


def test_the_body_is_type_timestamp_and_the_event_as_the_api_serves_it() -> None:
    payload = json.loads(body(EVENT))

    assert payload == {
        "type": "notice.sent",
        "timestamp": "2026-11-21T09:30:00.123Z",
        "data": EVENT.model_dump(mode="json"),
    }
    assert "—" in body(EVENT)  # UTF-8 as it is: the bytes signed are the bytes sent


def test_a_changed_body_a_wrong_secret_or_an_old_timestamp_does_not_verify() -> None:
    secret = new_secret()
    payload = body(EVENT)
    headers = signed_headers(MSG_ID, utc_now(), payload, [secret])

    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(payload.replace("Mill", "Mall"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(payload, headers)
    stale = signed_headers(MSG_ID, utc_now() - timedelta(minutes=6), payload, [secret])
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(payload, stale)


def test_during_the_overlap_both_secrets_sign_and_either_verifies() -> None:
    old, new = new_secret(), new_secret()
    now = utc_now()
    secrets = SigningSecrets(current=new, previous=old, previous_until=now + timedelta(days=1))
    payload = body(EVENT)

    headers = signed_headers(MSG_ID, now, payload, secrets.in_force(now))

    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(old).verify(payload, headers)
    assert Webhook(new).verify(payload, headers)


def test_after_the_overlap_only_the_new_secret_signs() -> None:
    old, new = new_secret(), new_secret()
    now = utc_now()
    secrets = SigningSecrets(current=new, previous=old, previous_until=now)
    payload = body(EVENT)

    headers = signed_headers(MSG_ID, now, payload, secrets.in_force(now))

    assert secrets.in_force(now) == [new]
    assert Webhook(new).verify(payload, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(payload, headers)


def test_secrets_do_not_show_in_a_repr() -> None:
    secret = new_secret()

    assert secret not in repr(SigningSecrets(current=secret, previous=secret))


def test_a_webhook_id_with_a_dot_is_refused_since_it_would_blur_what_is_signed() -> None:
    with pytest.raises(ValueError, match=r"no '\.'"):
        signed_headers("a.b", utc_now(), "{}", [new_secret()])
    with pytest.raises(ValueError, match="at least one secret"):
        signed_headers(MSG_ID, utc_now(), "{}", [])


@pytest.mark.parametrize(
    ("status", "ok", "permanent"),
    [(200, True, False), (204, True, False), (301, False, False), (302, False, False),
     (400, False, False), (404, False, False), (410, False, True), (429, False, False),
     (500, False, False), (503, False, False)],
)  # fmt: skip
def test_only_a_2xx_is_taken_and_only_410_is_final(status: int, ok: bool, permanent: bool) -> None:
    call = outcome_of(status)

    assert (call.ok, call.permanent) == (ok, permanent)
    assert (call.error is None) == ok
    assert call.kind == (None if ok else f"HTTP {status}")  # what the channel's log may say


def test_webhook_disabled_names_the_subscription_its_party_and_why() -> None:
    webhook = uuid.uuid4()
    event = WebhookDisabled(
        webhook_id=webhook, at=EVENT.at, subscriber="water", failures=10, reason="10 failed"
    )

    assert event.type is EventType.WEBHOOK_DISABLED
    assert (event.party, event.operator, event.notice_id) == (None, None, None)
    assert event.data() == {
        "webhook": str(webhook),
        "party": "water",
        "failures": 10,
        "reason": "10 failed",
    }


# -- secrets at rest ----------------------------------------------------------------------


def test_a_secret_sealed_for_a_row_opens_for_that_row_only(tmp_path: Path) -> None:
    box = SecretBox.load_or_create(tmp_path / "secrets.key")
    secret = new_secret()

    sealed = box.seal(secret, bound_to="row-1")

    assert sealed.startswith("aesgcm.")
    assert secret.removeprefix("whsec_") not in sealed
    assert box.open(sealed, bound_to="row-1") == secret
    with pytest.raises(SecretsError):
        box.open(sealed, bound_to="row-2")


def test_a_sealed_secret_altered_or_opened_with_another_key_is_refused(tmp_path: Path) -> None:
    box = SecretBox.load_or_create(tmp_path / "secrets.key")
    sealed = box.seal(new_secret(), bound_to="row-1")
    raw = bytearray(base64.b64decode(sealed.removeprefix("aesgcm.")))
    raw[-1] ^= 1

    with pytest.raises(SecretsError):
        box.open("aesgcm." + base64.b64encode(bytes(raw)).decode(), bound_to="row-1")
    with pytest.raises(SecretsError):
        SecretBox.load_or_create(tmp_path / "other.key").open(sealed, bound_to="row-1")
    with pytest.raises(SecretsError):
        box.open("plain text", bound_to="row-1")


def test_the_secrets_key_is_made_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "secrets.key"
    sealed = SecretBox.load_or_create(path).seal("whsec_x", bound_to="row")

    again = SecretBox.load_or_create(path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert again.open(sealed, bound_to="row") == "whsec_x"
    assert "key" in repr(again)
    assert path.read_text().strip() not in repr(again)


def test_a_secrets_key_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secrets.key"
    SecretBox.load_or_create(path)
    path.chmod(0o640)

    with pytest.raises(SecretsError, match="can be read by others"):
        SecretBox.load_or_create(path)


def test_a_file_that_is_not_a_secrets_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secrets.key"
    path.write_text("not a key\n")
    path.chmod(0o600)

    with pytest.raises(SecretsError, match="does not hold"):
        SecretBox.load_or_create(path)
