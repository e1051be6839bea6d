"""Where, as a box: a notice's optional ``bbox`` (RFC 7946 §5), on the wire and signed.

A box is optional and came to the protocol late: a notice without one reads, and is
signed, exactly as before, so the signatures made before boxes existed still verify.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from client.protocol import note
from client.protocol.signatures import check_signatures, event_content, sign, signed_content
from client.protocol.vocabulary import EventType
from server.domain.errors import BadSignature, Invalid
from server.domain.events import NoticeSent
from server.domain.model import BoundingBox, NoticeContent
from server.domain.rules import SendNotice, decide
from tests.unit.builders import CHANNEL, NOTICE_ID, NOW, WATER_OPERATOR, content, sent

MILL_LANE = BoundingBox(-1.2601, 51.752, -1.259, 51.7526)

# -- The box itself ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "box",
    [
        (-1.2601, 51.752, -1.259, 51.7526),
        (170, -20, -170, -10),  # across the antimeridian
        (-180, -90, 180, 90),  # the whole globe
        (2.35, 48.85, 2.35, 48.85),  # a point
        (180, 0, -180, 0),
    ],
    ids=["mill-lane", "antimeridian", "globe", "point", "on-the-antimeridian"],
)
def test_a_box_within_the_globe_with_south_below_north_is_valid(
    box: tuple[float, float, float, float],
) -> None:
    assert BoundingBox(*box).as_list() == list(box)


@pytest.mark.parametrize(
    "box",
    [
        (math.nan, 51.752, -1.259, 51.7526),
        (-1.2601, 51.752, math.inf, 51.7526),
        (-180.5, 51.752, -1.259, 51.7526),
        (-1.2601, 51.752, 181, 51.7526),
        (-1.2601, -91, -1.259, 51.7526),
        (-1.2601, 51.752, -1.259, 90.5),
        (-1.2601, 51.7526, -1.259, 51.752),  # south above north
    ],
    ids=["nan", "infinite", "west-of-180", "east-of-180", "below-90", "above-90", "upside-down"],
)
def test_a_box_off_the_globe_or_upside_down_is_invalid(
    box: tuple[float, float, float, float],
) -> None:
    with pytest.raises(Invalid) as refused:
        BoundingBox(*box)

    assert refused.value.field == "bbox"


def test_a_box_without_an_area_is_invalid() -> None:
    # The label names the place for people; the box only narrows it down.
    with pytest.raises(Invalid) as refused:
        NoticeContent(subject="Water main renewal", area=None, bbox=MILL_LANE)

    assert refused.value.field == "bbox"


# -- On the wire ---------------------------------------------------------------------------------


def test_the_sent_event_carries_a_bbox_only_when_the_notice_has_one() -> None:
    boxed = NoticeSent(sent(content(bbox=MILL_LANE))).data()
    plain = NoticeSent(sent()).data()

    assert boxed["bbox"] == [-1.2601, 51.752, -1.259, 51.7526]
    assert "bbox" not in plain
    assert {k: v for k, v in boxed.items() if k != "bbox"} == plain


# -- Signed --------------------------------------------------------------------------------------

ADA_SIGNER, ADA_KEY = note.generate_key("ada")

PLAIN_DATA: dict[str, Any] = {
    "notice": str(NOTICE_ID),
    "subject": "Hydrant test",
    "body": "",
    "priority": "routine",
    "activity": None,
    "area": "Mill Lane",
    "ack_required": True,
    "refers_to": None,
    "client_time": None,
    "ack_due_at": "2026-11-24T09:30:00.000Z",  # not signed: the server sets it
}

PLAIN_CONTENT = (
    b'{"ack_required":true,"activity":null,"area":"Mill Lane","body":"",'
    b'"channel":"water-roads","client_time":null,'
    b'"notice":"0b1e7a5e-6b1d-4c39-9d0f-3a3c2f6f1a01","operator":"ada","party":"water",'
    b'"priority":"routine","refers_to":null,"subject":"Hydrant test","type":"notice.sent"}'
)
"""What an operator signed for that notice before boxes existed, byte for byte."""


def _content(data: dict[str, Any]) -> bytes:
    return signed_content(
        channel=CHANNEL.id,
        event_type=EventType.NOTICE_SENT,
        party="water",
        operator="ada",
        data=data,
    )


def test_a_notice_without_a_box_is_signed_as_before_boxes_existed() -> None:
    assert _content(PLAIN_DATA) == PLAIN_CONTENT
    assert _content({**PLAIN_DATA, "bbox": None}) == PLAIN_CONTENT


def test_a_notice_with_a_box_signs_the_box_too() -> None:
    boxed = _content({**PLAIN_DATA, "bbox": [-1.2601, 51.752, -1.259, 51.7526]})

    assert json.loads(boxed) == {
        **json.loads(PLAIN_CONTENT),
        "bbox": [-1.2601, 51.752, -1.259, 51.7526],
    }


def _signed_send(notice_content: NoticeContent, *, signed_as: NoticeContent) -> SendNotice:
    """A send of ``notice_content`` carrying the signature of ``signed_as``."""
    unsigned = NoticeSent(sent(signed_as))
    signature = sign(ADA_SIGNER, _content(unsigned.data()))
    return SendNotice(NOTICE_ID, notice_content, signature=signature)


def test_a_signed_notice_with_a_box_is_accepted() -> None:
    boxed = content(bbox=MILL_LANE)

    (event,) = decide(
        _signed_send(boxed, signed_as=boxed),
        channel=CHANNEL,
        actor=WATER_OPERATOR,
        notice=None,
        now=NOW,
        key=ADA_KEY,
    )

    assert isinstance(event, NoticeSent)
    assert event.data()["bbox"] == MILL_LANE.as_list()


@pytest.mark.parametrize(
    ("sending", "signed_as"),
    [
        (content(bbox=MILL_LANE), content()),
        (content(), content(bbox=MILL_LANE)),
        (content(bbox=MILL_LANE), content(bbox=BoundingBox(-1.27, 51.75, -1.26, 51.76))),
    ],
    ids=["box-added", "box-dropped", "box-moved"],
)
def test_a_box_that_is_not_the_one_signed_is_refused(
    sending: NoticeContent, signed_as: NoticeContent
) -> None:
    with pytest.raises(BadSignature):
        decide(
            _signed_send(sending, signed_as=signed_as),
            channel=CHANNEL,
            actor=WATER_OPERATOR,
            notice=None,
            now=NOW,
            key=ADA_KEY,
        )


def _served(data: dict[str, Any], seq: int) -> dict[str, Any]:
    return {
        "channel": CHANNEL.id,
        "seq": seq,
        "type": "notice.sent",
        "actor": {"party": "water", "operator": "ada"},
        "data": json.loads(json.dumps(data)),  # as read back from the wire
    }


def test_an_auditor_checks_the_box_in_the_served_event() -> None:
    registered = {
        "channel": CHANNEL.id,
        "seq": 1,
        "type": "operator.key_registered",
        "actor": {"party": "water", "operator": "ada"},
        "data": {"operator": "ada", "verifier_key": ADA_KEY},
    }
    data = NoticeSent(sent(content(bbox=MILL_LANE))).data()
    data["signature"] = sign(ADA_SIGNER, _content(data))
    moved = {**data, "bbox": [-1.27, 51.75, -1.26, 51.76]}

    report = check_signatures([registered, _served(data, 2), _served(moved, 3)])

    assert report.signed == 1
    assert [seq for seq, _ in report.failures] == [3]
    assert event_content(_served(data, 2)) == _content(data)
