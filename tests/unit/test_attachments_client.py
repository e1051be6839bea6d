"""A notice's files in the Python client, against ``httpx.MockTransport``: the upload and the
download requests, the check of every download against its listing, a draft's list of
files, the files written and checked beside an export, and the lines that show them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from uuid import uuid4

import httpx
import pytest

from client import AttachmentMismatch, HotlineClient, Invalid, NotFound
from client.attachment_files import Listed, check_folder, listed_in
from client.attachments import guess_media_type, safe_file_name
from client.backoff import Backoff
from client.drafts import build_draft
from client.event_lines import attachment_line, event_line
from client.protocol.schemas import Attachment, Event
from client.protocol.signatures import notice_content
from client.protocol.vocabulary import Priority

URL = "http://hotline.test"
CHANNEL = "water-roads"
PLAN = b"Mill Lane: one lane closed, with traffic lights, 7 to 11 December.\n"
PLAN_SHA256 = hashlib.sha256(PLAN).hexdigest()
LISTING = Attachment(sha256=PLAN_SHA256, size=len(PLAN), media_type="text/plain", name="plan.txt")
FAST = Backoff(base=0.001, cap=0.01)

Handler = Callable[[httpx.Request], httpx.Response]


def client_of(handler: Handler) -> HotlineClient:
    return HotlineClient(URL, "hl_ana", transport=httpx.MockTransport(handler), backoff=FAST)


def listing_json(**changes: object) -> dict[str, object]:
    return {**LISTING.model_dump(mode="json"), **changes}


# -- media types and names ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("plan.pdf", "application/pdf"),
        ("Map.PNG", "image/png"),
        ("photo.jpg", "image/jpeg"),
        ("photo.jpeg", "image/jpeg"),
        ("area.geojson", "application/geo+json"),
        ("notes.txt", "text/plain"),
    ],
)
def test_the_media_type_is_told_by_the_extension(name: str, media_type: str) -> None:
    assert guess_media_type(name) == media_type


def test_an_extension_the_server_does_not_take_asks_for_the_type() -> None:
    with pytest.raises(ValueError, match="give it"):
        guess_media_type("macro.docm")


@pytest.mark.parametrize(
    ("listed", "written"),
    [
        ("plan.pdf", "plan.pdf"),
        ("../../.bashrc", PLAN_SHA256),
        ("..", PLAN_SHA256),
        ("dir\\evil.txt", "evil.txt"),
        ("/etc/passwd", "passwd"),
    ],
)
def test_a_listed_name_never_leaves_the_folder(listed: str, written: str) -> None:
    assert safe_file_name(listed, PLAN_SHA256) == written


# -- upload -------------------------------------------------------------------------------


async def test_an_upload_puts_the_bytes_as_their_type_and_returns_the_listing(
    tmp_path: Path,
) -> None:
    asked: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        return httpx.Response(201, json=listing_json())

    path = tmp_path / "plan.txt"
    path.write_bytes(PLAN)
    async with client_of(handler) as hotline:
        listing = await hotline.upload_attachment(CHANNEL, path)

    assert listing == LISTING
    (request,) = asked
    assert request.method == "PUT"
    assert request.url.path == f"/api/v1/channels/{CHANNEL}/attachments"
    assert request.url.params["name"] == "plan.txt"
    assert request.headers["Content-Type"] == "text/plain"
    assert request.headers["Authorization"] == "Bearer hl_ana"
    assert request.content == PLAN


async def test_an_upload_of_bytes_needs_a_name() -> None:
    async with client_of(lambda request: httpx.Response(500)) as hotline:
        with pytest.raises(ValueError, match="name the file"):
            await hotline.upload_attachment(CHANNEL, PLAN)


async def test_an_upload_is_tried_again_after_a_server_hiccup() -> None:
    answers = [httpx.Response(503), httpx.Response(200, json=listing_json())]

    async with client_of(lambda request: answers.pop(0)) as hotline:
        listing = await hotline.upload_attachment(
            CHANNEL, PLAN, name="plan.txt", media_type="text/plain"
        )

    assert listing == LISTING
    assert answers == []


async def test_an_upload_the_server_lists_under_another_hash_is_refused() -> None:
    wrong = listing_json(sha256="0" * 64)

    async with client_of(lambda request: httpx.Response(201, json=wrong)) as hotline:
        with pytest.raises(AttachmentMismatch):
            await hotline.upload_attachment(CHANNEL, PLAN, name="plan.txt")


async def test_a_refused_upload_is_invalid_with_the_servers_code() -> None:
    problem = {"status": 422, "code": "attachment-type-mismatch", "detail": "not a PDF"}

    async with client_of(lambda request: httpx.Response(422, json=problem)) as hotline:
        with pytest.raises(Invalid) as refused:
            await hotline.upload_attachment(CHANNEL, PLAN, name="plan.pdf")

    assert refused.value.code == "attachment-type-mismatch"


# -- download -----------------------------------------------------------------------------


async def test_a_download_of_the_listed_bytes_returns_them() -> None:
    asked: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        return httpx.Response(200, content=PLAN, headers={"Content-Type": "text/plain"})

    async with client_of(handler) as hotline:
        data = await hotline.download_attachment(CHANNEL, LISTING)

    assert data == PLAN
    assert asked[0].url.path == f"/api/v1/channels/{CHANNEL}/attachments/{PLAN_SHA256}"


async def test_a_download_whose_bytes_were_altered_is_refused_naming_both_hashes() -> None:
    altered = PLAN.replace(b"one lane", b"both lanes")

    async with client_of(lambda request: httpx.Response(200, content=altered)) as hotline:
        with pytest.raises(AttachmentMismatch) as refused:
            await hotline.download_attachment(CHANNEL, PLAN_SHA256)

    assert refused.value.sha256 == PLAN_SHA256
    assert refused.value.found == hashlib.sha256(altered).hexdigest()
    assert "refused the download" in str(refused.value)


async def test_a_download_longer_than_listed_is_refused_after_one_byte_more() -> None:
    async with client_of(lambda request: httpx.Response(200, content=PLAN * 100)) as hotline:
        with pytest.raises(AttachmentMismatch) as refused:
            await hotline.download_attachment(CHANNEL, LISTING)

    assert refused.value.size == len(PLAN) + 1


async def test_a_download_cut_short_is_refused() -> None:
    async with client_of(lambda request: httpx.Response(200, content=PLAN[:-1])) as hotline:
        with pytest.raises(AttachmentMismatch, match=f"lists {len(PLAN)}"):
            await hotline.download_attachment(CHANNEL, LISTING)


async def test_a_file_not_visible_is_not_found() -> None:
    problem = {"status": 404, "code": "not-found", "detail": "no such file"}

    async with client_of(lambda request: httpx.Response(404, json=problem)) as hotline:
        with pytest.raises(NotFound):
            await hotline.download_attachment(CHANNEL, LISTING)


async def test_a_download_needs_a_sha256() -> None:
    async with client_of(lambda request: httpx.Response(500)) as hotline:
        with pytest.raises(ValueError, match="not a SHA-256"):
            await hotline.download_attachment(CHANNEL, "plan.txt")


# -- drafts and signatures ----------------------------------------------------------------


def draft(**changes: object) -> dict[str, object]:
    built = build_draft(
        subject="Mill Lane: the plan",
        body="",
        priority=Priority.ROUTINE,
        activity=None,
        area=None,
        ack_required=True,
        refers_to=None,
        notice_id=uuid4(),
        channel=CHANNEL,
        **changes,  # type: ignore[arg-type]
    )
    return built.model_dump(mode="json", exclude_none=True)


def test_a_draft_lists_its_files_as_the_uploads_answered() -> None:
    assert draft(attachments=[LISTING])["attachments"] == [LISTING.model_dump(mode="json")]


def test_a_draft_without_files_signs_what_it_signed_before_files() -> None:
    built = build_draft(
        subject="Mill Lane",
        body="",
        priority=Priority.ROUTINE,
        activity=None,
        area=None,
        ack_required=True,
        refers_to=None,
        notice_id=uuid4(),
        channel=CHANNEL,
    )
    listed = built.model_copy(update={"attachments": [LISTING]})
    who = {"channel": CHANNEL, "party": "water", "operator": "ana"}

    plain = notice_content(built, **who)

    assert b"attachments" not in plain
    assert PLAN_SHA256.encode() in notice_content(listed, **who)


# -- lines --------------------------------------------------------------------------------


def test_a_sent_notice_line_names_each_file_with_its_hash() -> None:
    event = Event(
        channel=CHANNEL,
        seq=3,
        type="notice.sent",
        at="2026-11-21T09:00:00Z",
        actor={"party": "water", "operator": "ana"},
        data={
            "notice": str(uuid4()),
            "subject": "Mill Lane",
            "priority": "routine",
            "attachments": [listing_json()],
        },
    )

    line = event_line(event)

    assert f"attached: plan.txt (sha256 {PLAN_SHA256})" in line
    assert (
        attachment_line(LISTING) == f"plan.txt  text/plain, {len(PLAN)} bytes, sha256 {PLAN_SHA256}"
    )


# -- an export's folder -------------------------------------------------------------------


def sent_event(seq: int, *files: dict[str, object]) -> dict[str, object]:
    return {
        "channel": CHANNEL,
        "seq": seq,
        "type": "notice.sent",
        "at": "2026-11-21T09:00:00.000Z",
        "actor": {"party": "water", "operator": "ana"},
        "data": {"notice": f"notice-{seq}", "subject": "Mill Lane", "attachments": list(files)},
    }


def test_the_files_of_a_log_are_each_notices_listings_in_order() -> None:
    map_json = listing_json(sha256="a" * 64, name="map.geojson")
    events = [sent_event(1, listing_json()), {"seq": 2, "type": "notice.received"}]
    events.append(sent_event(3, map_json, listing_json()))

    found = list(listed_in(events))

    assert [(f.seq, f.file.name) for f in found] == [
        (1, "plan.txt"),
        (3, "map.geojson"),
        (3, "plan.txt"),
    ]


def test_an_export_folder_whose_file_matches_its_listing_passes(tmp_path: Path) -> None:
    (tmp_path / PLAN_SHA256).write_bytes(PLAN)
    listed = [Listed(1, "n", LISTING), Listed(5, "m", LISTING)]

    report = check_folder(tmp_path, listed, all_kept=True)

    assert (report.listed, report.checked, report.missing, report.failures) == (1, 1, [], [])


def test_an_export_folder_with_a_file_altered_fails_naming_it(tmp_path: Path) -> None:
    (tmp_path / PLAN_SHA256).write_bytes(PLAN.replace(b"one lane", b"two lanes"))

    report = check_folder(tmp_path, [Listed(1, "n", LISTING)], all_kept=False)

    assert report.checked == 0
    (failure,) = report.failures
    assert "plan.txt" in failure
    assert "not the one the log lists" in failure


def test_a_file_missing_from_the_folder_is_said_and_fails_only_if_all_were_kept(
    tmp_path: Path,
) -> None:
    listed = [Listed(1, "n", LISTING)]

    some = check_folder(tmp_path, listed, all_kept=False)
    kept = check_folder(tmp_path, listed, all_kept=True)

    assert (len(some.missing), some.failures) == (1, [])
    assert (kept.missing, len(kept.failures)) == ([], 1)
