"""Attachments through the app, a real database and a real directory of files.

Each test runs on SQLite and on PostgreSQL. Water (ana) uploads a plan to the demo
channel and sends a notice that carries it; roads (carla) may download it only once a
notice lists it. The files live in a directory of the test's own, so a test can look at
what was stored, and spoil a file on disk.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from client.protocol import note
from client.protocol.schemas import NoticeDraft
from client.protocol.signatures import check_signatures, sign_draft
from client.protocol.vocabulary import Role
from server.config import Settings
from server.service import access, admin, demo
from server.store.db import Database
from server.store.models import AttachmentRow
from tests.integration.clocked import OTHERS, Line, clocked

CHANNEL = f"/api/v1/channels/{demo.CHANNEL}"
LIMIT = 200_000
"""The largest file these tests' server accepts: above the 64 KiB of a JSON request."""

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(64)) + b"\xff\xd9"
GEOJSON = json.dumps(
    {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-1.26, 51.75]}}
).encode()
TEXT = "Lane closed 07:00\u201317:00; diversion via Canal Street.\n".encode()
FILES = {
    "application/pdf": (PDF, "Mill Lane traffic plan.pdf"),
    "image/png": (PNG, "closure.png"),
    "image/jpeg": (JPEG, "site photo.jpg"),
    "application/geo+json": (GEOJSON, "closure.geojson"),
    "text/plain": (TEXT, "diversion — notes.txt"),
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The integration settings (files under the test's own directory), a smaller limit."""
    return settings.model_copy(update={"max_attachment_bytes": LIMIT})


@pytest.fixture
async def line(db: Database, settings: Settings) -> AsyncIterator[Line]:
    async with clocked(db, settings) as line:
        await admin.create_operator(db, "olga", party="water", name="Olga", role=Role.OBSERVER)
        _, line.api.tokens["olga"] = await access.issue_token(db, "olga")
        yield line


async def upload(
    line: Line,
    operator: str,
    content: Any = PDF,
    media_type: str | None = "application/pdf",
    name: str = "plan.pdf",
    channel: str = CHANNEL,
) -> httpx.Response:
    headers = line.api.auth(operator)
    if media_type is not None:
        headers["Content-Type"] = media_type
    return await line.api.client.put(
        f"{channel}/attachments", params={"name": name}, content=content, headers=headers
    )


async def uploaded(line: Line, operator: str = "ana", **kwargs: Any) -> dict[str, Any]:
    response = await upload(line, operator, **kwargs)
    assert response.status_code == 201, response.text
    listed: dict[str, Any] = response.json()
    return listed


async def download(
    line: Line, operator: str, sha256: str, channel: str = CHANNEL
) -> httpx.Response:
    return await line.api.get(operator, f"{channel}/attachments/{sha256}")


def stored(settings: Settings) -> list[Path]:
    """Every file under the attachments directory, temporary ones included."""
    root = settings.attachments_dir
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def rows(db: Database) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(AttachmentRow)) or 0)


# -- upload ----------------------------------------------------------------------------------


@pytest.mark.parametrize("media_type", sorted(FILES))
async def test_an_upload_is_stored_under_its_hash_and_answered_as_a_notice_lists_it(
    line: Line, settings: Settings, media_type: str
) -> None:
    content, name = FILES[media_type]

    listed = await uploaded(line, content=content, media_type=media_type, name=name)

    sha256 = hashlib.sha256(content).hexdigest()
    assert listed == {
        "sha256": sha256,
        "size": len(content),
        "media_type": media_type,
        "name": name,
    }
    assert stored(settings) == [settings.attachments_dir / sha256[:2] / sha256]
    assert (settings.attachments_dir / sha256[:2] / sha256).read_bytes() == content


async def test_uploading_the_same_bytes_again_answers_200_and_stores_one_copy(
    line: Line, settings: Settings, db: Database
) -> None:
    first = await uploaded(line)

    again = await upload(line, "ben", name="plan, again.pdf")

    assert again.status_code == 200, again.text
    assert again.json() == {**first, "name": "plan, again.pdf"}, "the name is the caller's"
    assert len(stored(settings)) == 1
    assert await rows(db) == 1


async def test_the_same_bytes_cannot_be_uploaded_again_as_another_type(line: Line) -> None:
    await uploaded(line, content=GEOJSON, media_type="text/plain", name="closure.txt")

    again = await upload(line, "ana", content=GEOJSON, media_type="application/geo+json")

    assert again.status_code == 422, again.text
    assert again.json()["code"] == "attachment-type-mismatch"
    assert "as text/plain before" in again.json()["detail"]


async def test_a_content_type_with_a_utf_8_charset_is_the_bare_media_type(line: Line) -> None:
    listed = await uploaded(line, content=TEXT, media_type="Text/Plain; charset=UTF-8")

    assert listed["media_type"] == "text/plain"


async def test_an_upload_may_be_larger_than_a_json_request(line: Line) -> None:
    big = PDF + b"%" * 100_000  # beyond HOTLINE_MAX_BODY_BYTES, within the attachments' limit

    listed = await uploaded(line, content=big)

    assert listed["size"] == len(big)


async def test_the_bytes_of_new_uploads_are_counted_for_prometheus(line: Line) -> None:
    async def counted() -> float:
        response = await line.api.get("wanda", "/metrics")
        assert response.status_code == 200, response.text
        [value] = [
            float(line.split()[-1])
            for line in response.text.splitlines()
            if line.startswith("hotline_attachment_bytes_total ")
        ]
        return value

    before = await counted()
    await uploaded(line)
    await upload(line, "ben")  # the same bytes again: nothing new
    await uploaded(line, content=TEXT, media_type="text/plain")

    assert await counted() - before == len(PDF) + len(TEXT)


async def test_an_admin_may_upload_for_its_party_and_an_operator_send_it(line: Line) -> None:
    listed = await uploaded(line, "wanda")

    sent = await line.api.send("ana", attachments=[listed])

    assert sent.status_code == 201, sent.text


async def test_observers_may_not_upload(line: Line, settings: Settings) -> None:
    response = await upload(line, "olga")

    assert response.status_code == 403, response.text
    assert response.json()["code"] == "forbidden"
    assert stored(settings) == []


async def test_an_upload_to_a_channel_of_other_parties_is_not_found(
    line: Line, settings: Settings
) -> None:
    response = await upload(line, "ana", channel=f"/api/v1/channels/{OTHERS}")

    assert response.status_code == 404, response.text
    assert stored(settings) == []


# -- refused uploads: a problem, and nothing stored -------------------------------------------


MISMATCH, UNSUPPORTED = "attachment-type-mismatch", "attachment-type-unsupported"
GEO = "application/geo+json"
REFUSED = [
    pytest.param(b"", "application/pdf", "plan.pdf", 422, "invalid", id="empty"),
    pytest.param(PNG, "application/pdf", "plan.pdf", 422, MISMATCH, id="png-as-pdf"),
    pytest.param(PDF, "image/png", "plan.png", 422, MISMATCH, id="pdf-as-png"),
    pytest.param(b"\xff\xd8", "image/jpeg", "a.jpg", 422, MISMATCH, id="short-jpeg"),
    pytest.param(b"MZ\x90\x00", "image/jpeg", "a.jpg", 422, MISMATCH, id="exe-as-jpeg"),
    pytest.param(b"a\x00b", "text/plain", "a.txt", 422, MISMATCH, id="nul-in-text"),
    pytest.param(b"caf\xe9", "text/plain", "a.txt", 422, MISMATCH, id="latin-1"),
    pytest.param(b"[1, 2]", GEO, "a.geojson", 422, MISMATCH, id="json-array"),
    pytest.param(b'{"type": "Circle"}', GEO, "a.geojson", 422, MISMATCH, id="not-geojson"),
    pytest.param(b'{"type": "Point"', GEO, "a.geojson", 422, MISMATCH, id="broken-json"),
    pytest.param(PDF, "application/zip", "plan.zip", 415, UNSUPPORTED, id="zip"),
    pytest.param(PDF, "text/html", "plan.html", 415, UNSUPPORTED, id="html"),
    pytest.param(PDF, None, "plan.pdf", 415, UNSUPPORTED, id="no-type"),
    pytest.param(TEXT, "text/plain; charset=latin-1", "a.txt", 415, UNSUPPORTED, id="charset"),
    pytest.param(PDF, "application/pdf", "../etc/passwd", 422, "invalid", id="path"),
    pytest.param(PDF, "application/pdf", "plans\\mill.pdf", 422, "invalid", id="backslash"),
    pytest.param(PDF, "application/pdf", "..", 422, "invalid", id="dot-dot"),
    pytest.param(PDF, "application/pdf", "plan\n.pdf", 422, "invalid", id="line-break"),
    pytest.param(PDF, "application/pdf", "fdp.\u202eexe", 422, "invalid", id="bidi-override"),
    pytest.param(PDF, "application/pdf", "x" * 256, 422, "invalid-request", id="name-too-long"),
    pytest.param(PDF, "application/pdf", "", 422, "invalid-request", id="name-empty"),
]


@pytest.mark.parametrize(("content", "media_type", "name", "status", "code"), REFUSED)
async def test_a_bad_upload_is_a_problem_and_nothing_is_stored(
    line: Line,
    settings: Settings,
    db: Database,
    content: bytes,
    media_type: str | None,
    name: str,
    status: int,
    code: str,
) -> None:
    response = await upload(line, "ana", content=content, media_type=media_type, name=name)

    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert stored(settings) == []
    assert await rows(db) == 0


async def test_a_file_beyond_the_limit_is_refused_before_it_is_read(
    line: Line, settings: Settings, db: Database
) -> None:
    response = await upload(line, "ana", content=PDF + b"%" * LIMIT)

    assert response.status_code == 413, response.text
    assert response.json()["code"] == "content-too-large"
    assert stored(settings) == []
    assert await rows(db) == 0


async def test_a_streamed_file_beyond_the_limit_is_refused_as_it_grows(
    line: Line, settings: Settings, db: Database
) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it comes
        yield PDF
        for _ in range(LIMIT // 10_000 + 1):
            yield b"%" * 10_000

    response = await upload(line, "ana", content=chunks())

    assert response.status_code == 413, response.text
    assert response.json()["code"] == "content-too-large"
    assert stored(settings) == []
    assert await rows(db) == 0


# -- notices that carry files ---------------------------------------------------------------


async def test_a_notice_lists_its_files_in_its_answer_its_page_and_its_notice_sent_event(
    line: Line,
) -> None:
    plan = await uploaded(line)
    area = await uploaded(line, content=GEOJSON, media_type="application/geo+json", name="a.json")

    sent = await line.api.send("ana", attachments=[plan, area])

    assert sent.status_code == 201, sent.text
    assert sent.json()["attachments"] == [plan, area]
    read = await line.api.get("carla", f"{CHANNEL}/notices/{sent.json()['id']}")
    assert read.json()["attachments"] == [plan, area]
    assert read.json()["history"][0]["data"]["attachments"] == [plan, area]
    event = (await line.api.log())[-1]
    assert event["type"] == "notice.sent"
    assert event["data"]["attachments"] == [plan, area]


async def test_a_notice_without_files_logs_no_attachments_member(line: Line) -> None:
    sent = await line.api.send("ana", attachments=[])

    assert sent.status_code == 201, sent.text
    assert sent.json()["attachments"] == []
    assert "attachments" not in (await line.api.log())[-1]["data"]


async def test_a_retry_is_a_repeat_only_with_the_same_files(line: Line) -> None:
    plan = await uploaded(line)
    photo = await uploaded(line, content=JPEG, media_type="image/jpeg", name="photo.jpg")
    draft = {"id": str(uuid.uuid4()), "subject": "Water main renewal", "attachments": [plan]}
    first = await line.api.post("ana", f"{CHANNEL}/notices", draft)

    repeat = await line.api.post("ana", f"{CHANNEL}/notices", draft)
    other = await line.api.post("ana", f"{CHANNEL}/notices", {**draft, "attachments": [photo]})

    assert (first.status_code, repeat.status_code) == (201, 200)
    assert other.status_code == 409, other.text


async def test_a_signed_notice_signs_its_files_and_the_log_proves_which_were_sent(
    line: Line,
) -> None:
    signer, key = note.generate_key("ana")
    registered = await line.api.post("ana", f"{CHANNEL}/keys", {"verifier_key": key})
    assert registered.status_code == 201, registered.text
    plan = await uploaded(line)
    draft = NoticeDraft.model_validate(
        {"id": str(uuid.uuid4()), "subject": "Water main renewal", "attachments": [plan]}
    )
    signed = sign_draft(draft, channel=demo.CHANNEL, party="water", signer=signer)

    sent = await line.api.post(
        "ana", f"{CHANNEL}/notices", signed.model_dump(mode="json", exclude_none=True)
    )

    assert sent.status_code == 201, sent.text
    log = await line.api.log("carla")
    assert check_signatures(log).ok
    spoiled = json.loads(json.dumps(log))
    spoiled[-1]["data"]["attachments"][0]["sha256"] = hashlib.sha256(b"other").hexdigest()
    report = check_signatures(spoiled)
    assert [seq for seq, _ in report.failures] == [spoiled[-1]["seq"]]


UNKNOWN = [
    pytest.param({"sha256": hashlib.sha256(b"never").hexdigest()}, id="never-uploaded"),
    pytest.param({"size": len(PDF) + 1}, id="other-size"),
    pytest.param({"media_type": "text/plain"}, id="other-media-type"),
]


@pytest.mark.parametrize("change", UNKNOWN)
async def test_a_notice_listing_a_file_not_uploaded_as_listed_is_refused_and_logs_nothing(
    line: Line, change: dict[str, Any]
) -> None:
    plan = await uploaded(line)
    before = await line.api.log()

    sent = await line.api.send("ana", attachments=[{**plan, **change}])

    assert sent.status_code == 422, sent.text
    assert sent.json()["code"] == "attachment-unknown"
    assert sent.json()["errors"][0]["field"] == "attachments"
    assert await line.api.log() == before


async def test_a_party_may_not_list_a_file_the_other_party_uploaded(line: Line) -> None:
    theirs = await uploaded(line, "carla")

    sent = await line.api.send("ana", attachments=[theirs])

    assert sent.status_code == 422, sent.text
    assert sent.json()["code"] == "attachment-unknown"


async def test_a_file_uploaded_to_one_channel_cannot_be_listed_on_another(line: Line) -> None:
    await admin.create_channel(line.db, "water-parks", parties=("water", "parks"))
    plan = await uploaded(line)

    sent = await line.api.send("ana", channel="water-parks", attachments=[plan])

    assert sent.status_code == 422, sent.text
    assert sent.json()["code"] == "attachment-unknown"


async def test_the_other_party_may_upload_the_same_bytes_and_list_them_itself(
    line: Line, db: Database
) -> None:
    await uploaded(line, "ana")

    theirs = await upload(line, "carla", name="their copy.pdf")
    sent = await line.api.send("carla", attachments=[theirs.json()])

    assert theirs.status_code == 201, "new for roads, though the bytes are stored already"
    assert sent.status_code == 201, sent.text
    assert await rows(db) == 2


async def test_the_socket_refuses_a_send_listing_an_unknown_file(line: Line) -> None:
    plan = await uploaded(line)
    draft = {
        "id": str(uuid.uuid4()),
        "subject": "Water main renewal",
        "attachments": [{**plan, "size": plan["size"] + 1}],
    }

    async with line.socket("ana") as socket:
        refused = await socket.command(
            {"type": "send", "ref": "s1", "channel": demo.CHANNEL, "notice": draft}
        )
        accepted = await socket.command(
            {
                "type": "send",
                "ref": "s2",
                "channel": demo.CHANNEL,
                "notice": {**draft, "id": str(uuid.uuid4()), "attachments": [plan]},
            }
        )

    assert (refused["type"], refused["status"], refused["code"]) == (
        "error",
        422,
        "attachment-unknown",
    )
    assert accepted["type"] == "result", accepted
    assert accepted["notice"]["attachments"] == [plan]


# -- download ---------------------------------------------------------------------------------


async def test_a_download_is_the_file_served_as_an_attachment_nothing_renders(
    line: Line,
) -> None:
    plan = await uploaded(line, name="Mill Lane plan — rév B.pdf")

    response = await download(line, "ana", plan["sha256"])

    assert response.status_code == 200, response.text
    assert response.content == PDF
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert response.headers["content-disposition"] == (
        'attachment; filename="Mill Lane plan _ r_v B.pdf"; '
        "filename*=UTF-8''Mill%20Lane%20plan%20%E2%80%94%20r%C3%A9v%20B.pdf"
    ), "the name it was uploaded under, while no notice lists it"


async def test_the_other_party_sees_a_file_only_once_a_notice_lists_it(line: Line) -> None:
    plan = await uploaded(line)

    before = await download(line, "carla", plan["sha256"])
    sent = await line.api.send("ana", attachments=[{**plan, "name": "Traffic plan.pdf"}])
    after = await download(line, "carla", plan["sha256"])

    assert before.status_code == 404, before.text
    assert before.json()["code"] == "not-found"
    assert sent.status_code == 201, sent.text
    assert after.status_code == 200, after.text
    assert after.content == PDF
    assert after.headers["content-disposition"].endswith("filename*=UTF-8''Traffic%20plan.pdf")


async def test_a_file_is_not_found_from_another_channel_or_by_another_parties_operator(
    line: Line,
) -> None:
    plan = await uploaded(line)
    await line.api.send("ana", attachments=[plan])
    await admin.create_channel(line.db, "water-parks", parties=("water", "parks"))

    elsewhere = await download(line, "ana", plan["sha256"], channel="/api/v1/channels/water-parks")
    others = await download(line, "ana", plan["sha256"], channel=f"/api/v1/channels/{OTHERS}")
    unknown = await download(line, "ana", hashlib.sha256(b"never").hexdigest())
    malformed = await download(line, "ana", "not-a-hash")

    for response in (elsewhere, others, unknown, malformed):
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "not-found"


async def test_a_file_altered_on_disk_is_refused_and_not_one_byte_of_it_is_sent(
    line: Line, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    plan = await uploaded(line)
    await line.api.send("ana", attachments=[plan])
    path = settings.attachments_dir / plan["sha256"][:2] / plan["sha256"]
    path.write_bytes(PDF.replace(b"Catalog", b"Catalug"))

    with caplog.at_level(logging.ERROR):
        response = await download(line, "carla", plan["sha256"])

    assert response.status_code == 500, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "attachment-corrupt"
    assert b"Catalug" not in response.content
    assert any(
        r.levelno == logging.ERROR and getattr(r, "sha256", None) == plan["sha256"]
        for r in caplog.records
    )


async def test_a_file_gone_from_disk_is_refused_as_corrupt(line: Line, settings: Settings) -> None:
    plan = await uploaded(line)
    (settings.attachments_dir / plan["sha256"][:2] / plan["sha256"]).unlink()

    response = await download(line, "ana", plan["sha256"])

    assert response.status_code == 500, response.text
    assert response.json()["code"] == "attachment-corrupt"


async def test_uploading_the_bytes_again_mends_a_file_altered_on_disk(
    line: Line, settings: Settings
) -> None:
    plan = await uploaded(line)
    path = settings.attachments_dir / plan["sha256"][:2] / plan["sha256"]
    path.write_bytes(b"spoiled")

    again = await upload(line, "ana")
    response = await download(line, "ana", plan["sha256"])

    assert again.status_code == 200, again.text
    assert response.status_code == 200, response.text
    assert response.content == PDF


# -- the document -----------------------------------------------------------------------------


async def test_the_openapi_document_says_an_upload_is_a_file_of_one_of_five_types(
    line: Line,
) -> None:
    document = (await line.api.client.get("/openapi.json")).json()

    operations = document["paths"]["/api/v1/channels/{channel_id}/attachments"]
    body = operations["put"]["requestBody"]
    assert body["required"] is True
    assert sorted(body["content"]) == sorted(FILES)
    binary = {"type": "string", "format": "binary", "minLength": 1}
    for kind in ("application/pdf", "image/png", "image/jpeg"):
        assert body["content"][kind]["schema"] == binary
    # What a schema can say of the other two: a GeoJSON object, and text without a NUL.
    geojson = body["content"]["application/geo+json"]["schema"]
    assert geojson["type"] == "object"
    assert "FeatureCollection" in geojson["properties"]["type"]["enum"]
    assert body["content"]["text/plain"]["schema"]["pattern"] == "^[^\\x00]*$"
    assert {"201", "200", "413", "415", "422"} <= set(operations["put"]["responses"])
    download = document["paths"]["/api/v1/channels/{channel_id}/attachments/{sha256}"]["get"]
    assert sorted(download["responses"]["200"]["content"]) == sorted(FILES)
