"""What a notice may carry: each kind of file known by its bytes, names that are only labels.

No database and no files: the checks of ``server/domain/attachments.py`` are fed bytes as
an upload would stream them, in chunks of any size, and a notice's list of files goes
through the rules into its ``notice.sent`` event and its signature.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, get_args

import pytest

from client.protocol import note, schemas
from client.protocol.signatures import check_signatures, event_content, sign
from server.domain.attachments import (
    MAX_ATTACHMENTS,
    MEDIA_TYPES,
    Attachment,
    ContentCheck,
    check_name,
    media_type_of,
)
from server.domain.errors import Invalid, TooLarge, TypeMismatch, UnsupportedType
from server.domain.events import NoticeSent
from tests.unit.builders import content, sent

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"
JPEG = b"\xff\xd8\xff\xdb\x00\x43\x00" + bytes(64) + b"\xff\xd9"
GEOJSON = b'{"type": "FeatureCollection", "features": []}'
TEXT = "Diversion via Canal Street \u2014 signs at both ends.\n".encode()
GOOD = {
    "application/pdf": PDF,
    "image/png": PNG,
    "image/jpeg": JPEG,
    "application/geo+json": GEOJSON,
    "text/plain": TEXT,
}


def checked(media_type: str, content: bytes, *, chunk: int = 7, limit: int = 1_000_000) -> int:
    """Stream ``content`` through a check in chunks of ``chunk`` bytes; returns its size."""
    check = ContentCheck(media_type, limit=limit)
    for start in range(0, len(content), chunk):
        check.feed(content[start : start + chunk])
    check.finish()
    return check.size


def attachment(**changes: object) -> Attachment:
    fields: dict[str, object] = {
        "sha256": hashlib.sha256(PDF).hexdigest(),
        "size": len(PDF),
        "media_type": "application/pdf",
        "name": "Mill Lane traffic plan.pdf",
    }
    fields.update(changes)
    return Attachment(**fields)  # type: ignore[arg-type]


# -- the kinds of file ------------------------------------------------------------------------


def test_the_wire_schema_and_the_domain_accept_the_same_media_types() -> None:
    assert set(get_args(schemas.MediaType)) == MEDIA_TYPES == set(GOOD)
    assert schemas.MAX_ATTACHMENTS == MAX_ATTACHMENTS


@pytest.mark.parametrize("chunk", [1, 3, 7, 4096])
@pytest.mark.parametrize("media_type", sorted(GOOD))
def test_each_kind_of_file_is_known_by_its_bytes_however_they_are_cut(
    media_type: str, chunk: int
) -> None:
    assert checked(media_type, GOOD[media_type], chunk=chunk) == len(GOOD[media_type])


@pytest.mark.parametrize(
    ("media_type", "content"),
    [
        ("application/pdf", PNG),
        ("application/pdf", b"%PDF"),  # cut before its signature ends
        ("application/pdf", b" %PDF-1.4"),
        ("image/png", JPEG),
        ("image/png", b"\x89PNG\r\n\x1a"),
        ("image/jpeg", b"\xff\xd8"),
        ("image/jpeg", b"GIF89a"),
        ("text/plain", b"MZ\x90\x00\x03\x00"),  # an executable's NUL bytes
        ("text/plain", b"caf\xe9"),  # Latin-1
        ("text/plain", "caf\u00e9".encode()[:-1]),  # ends halfway through a character
        ("application/geo+json", b'{"type": "Feature"'),
        ("application/geo+json", b'["Feature"]'),
        ("application/geo+json", b'{"type": "Topology"}'),  # TopoJSON is not GeoJSON
        ("application/geo+json", b'{"type": ["Point"]}'),
        ("application/geo+json", b'{"kind": "Point"}'),
        ("application/geo+json", b'{"type": "Point", "coordinates": [NaN, 0]}'),
        ("application/geo+json", "\ufeff".encode() + GEOJSON),  # RFC 8259: no byte order mark
        ("application/geo+json", GEOJSON.decode().encode("utf-16")),
        ("application/geo+json", b"[" * 100_000 + b"]" * 100_000),
    ],
)
def test_a_file_that_is_not_what_its_type_says_is_a_mismatch(
    media_type: str, content: bytes
) -> None:
    with pytest.raises(TypeMismatch) as refused:
        checked(media_type, content)

    assert (refused.value.code, refused.value.field) == ("attachment-type-mismatch", "body")


def test_a_mismatch_is_refused_as_soon_as_the_first_bytes_show_it() -> None:
    check = ContentCheck("application/pdf", limit=1_000_000)

    with pytest.raises(TypeMismatch):
        check.feed(b"MZ")


def test_an_empty_file_is_invalid_whatever_its_type() -> None:
    for media_type in GOOD:
        with pytest.raises(Invalid) as refused:
            ContentCheck(media_type, limit=10).finish()
        assert (refused.value.code, refused.value.field) == ("invalid", "body")


def test_a_file_beyond_the_limit_is_refused_as_it_grows() -> None:
    check = ContentCheck("text/plain", limit=10)
    check.feed(b"0123456789")

    with pytest.raises(TooLarge) as refused:
        check.feed(b"!")

    assert (refused.value.code, refused.value.limit) == ("content-too-large", 10)


@pytest.mark.parametrize(
    ("header", "media_type"),
    [
        ("application/pdf", "application/pdf"),
        ("Image/PNG", "image/png"),
        ("text/plain; charset=utf-8", "text/plain"),
        ('text/plain;charset="UTF-8"', "text/plain"),
        ("application/geo+json; charset=utf-8", "application/geo+json"),
    ],
)
def test_a_content_type_names_its_media_type_in_any_case_with_a_utf_8_charset(
    header: str, media_type: str
) -> None:
    assert media_type_of(header) == media_type


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "application/octet-stream",
        "text/html",
        "image/svg+xml",  # an image that runs scripts
        "application/json",
        "text/plain; charset=iso-8859-1",
    ],
)
def test_any_other_content_type_is_unsupported(header: str | None) -> None:
    with pytest.raises(UnsupportedType) as refused:
        media_type_of(header)

    assert refused.value.code == "attachment-type-unsupported"


# -- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "plan.pdf",
        "Mill Lane traffic plan — rév B.pdf",
        "x" * 255,
        ".hidden",
        "a..b",
        "\U0001f468\u200d\U0001f527 works.txt",  # an emoji joined by a zero-width joiner
        "\u0646\u0642\u0634\u0647\u200c\u0647\u0627.pdf",  # Persian, with a zero-width non-joiner
    ],
)
def test_a_name_is_any_label_of_1_to_255_characters_that_is_no_path(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "x" * 256,
        ".",
        "..",
        "../plan.pdf",
        "/etc/passwd",
        "plans\\mill.pdf",
        "plan\x00.pdf",
        "plan\n.pdf",
        "plan\r.pdf",
        "plan\t.pdf",
        "plan\x7f.pdf",
        "plan\x85.pdf",  # a C1 control
        "plan\u2028.pdf",  # a line separator
        "fdp.\u202eexe",  # shown as "exe.pdf" by a right-to-left override
        "plan\u2066.pdf",
    ],
)
def test_a_name_with_a_path_a_control_or_a_bidirectional_override_is_invalid(
    name: str,
) -> None:
    with pytest.raises(Invalid) as refused:
        check_name(name)

    assert refused.value.field == "name"


# -- a notice's list of files -------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"sha256": "AB" * 32},
        {"sha256": "ab" * 31},
        {"size": 0},
        {"media_type": "text/html"},
        {"name": "../plan.pdf"},
    ],
)
def test_a_listed_file_must_be_one_an_upload_could_have_answered(
    changes: dict[str, object],
) -> None:
    with pytest.raises(Invalid) as refused:
        attachment(**changes)

    assert refused.value.field == "attachments"


def test_a_notice_carries_at_most_ten_files_each_listed_once() -> None:
    files = tuple(attachment(sha256=hashlib.sha256(bytes([n])).hexdigest()) for n in range(11))
    assert content(attachments=files[:MAX_ATTACHMENTS]).attachments == files[:10]

    with pytest.raises(Invalid, match="at most 10"):
        content(attachments=files)
    with pytest.raises(Invalid, match="once"):
        content(attachments=(files[0], files[0]))


def test_notice_sent_lists_the_files_in_the_senders_order() -> None:
    plan = attachment()
    area = attachment(
        sha256=hashlib.sha256(GEOJSON).hexdigest(),
        size=len(GEOJSON),
        media_type="application/geo+json",
        name="closure.geojson",
    )

    data = NoticeSent(sent(content(attachments=(area, plan)))).data()

    assert data["attachments"] == [area.wire(), plan.wire()]
    assert list(data["attachments"][0]) == ["sha256", "size", "media_type", "name"]


def test_a_notice_without_files_has_no_attachments_member() -> None:
    assert "attachments" not in NoticeSent(sent(content())).data()


def test_a_signature_covers_the_files_so_another_file_breaks_it() -> None:
    signer, key = note.generate_key("ada")
    data = NoticeSent(sent(content(attachments=(attachment(),)))).data()
    event: dict[str, Any] = {
        "channel": "water-roads",
        "seq": 2,
        "type": "notice.sent",
        "actor": {"party": "water", "operator": "ada"},
        "data": data,
    }
    data["signature"] = sign(signer, event_content(event))
    registration = {
        "channel": "water-roads",
        "seq": 1,
        "type": "operator.key_registered",
        "actor": {"party": "water", "operator": "ada"},
        "data": {"operator": "ada", "verifier_key": key},
    }
    assert check_signatures([registration, event]).ok

    swapped = json.loads(json.dumps(event))
    swapped["data"]["attachments"][0]["sha256"] = hashlib.sha256(b"another plan").hexdigest()
    dropped = json.loads(json.dumps(event))
    del dropped["data"]["attachments"]

    for spoiled in (swapped, dropped):
        assert not check_signatures([registration, spoiled]).ok
