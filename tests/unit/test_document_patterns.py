"""The OpenAPI document's patterns say what the server's checks accept, no more, no less.

Each rule is enforced by a check with a clear message (``check_text``, ``check_name``,
``parse_url``, ``Verifier.parse``…) and written into the document as a JSON Schema
``pattern`` for clients and fuzzers (``tests/e2e/test_schemathesis.py``). These tests hold
the two to each other on generated strings.
"""

from __future__ import annotations

import base64
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from client.protocol import limits, schemas
from client.protocol.note import generate_key
from client.protocol.signatures import _decode
from server.domain.address_guard import WebhookAddressRefused, parse_url
from server.domain.attachments import check_name
from server.domain.errors import Invalid
from server.service.admin import check_email

# Characters the rules are about, among any others.
TRICKY = st.sampled_from(
    [*"\t\n\r \x00\x1b\x7f\x85\x9f\xa0\u2028\u2029\u202e\u200d\ufeff./\\@:é", "\U0001f600"]
)
TEXTS = st.text(st.one_of(TRICKY, st.characters()), max_size=12)


def passes(check: object, value: str) -> bool:
    try:
        check(value)  # type: ignore[operator]
    except (ValueError, Invalid):
        return False
    return True


@given(TEXTS)
def test_free_text_matches_its_pattern_when_check_text_takes_it(text: str) -> None:
    assert bool(re.fullmatch(limits.TEXT_PATTERN, text)) == passes(limits.check_text, text)


@given(TEXTS)
def test_a_line_matches_its_pattern_when_check_line_takes_it(text: str) -> None:
    assert bool(re.fullmatch(limits.LINE_PATTERN, text)) == passes(limits.check_line, text)


@given(TEXTS)
def test_nonblank_patterns_also_want_something_that_is_not_space(text: str) -> None:
    said = bool(text.strip())
    assert bool(re.fullmatch(limits.NONBLANK_TEXT_PATTERN, text)) == (
        passes(limits.check_text, text) and said
    )
    assert bool(re.fullmatch(limits.NONBLANK_LINE_PATTERN, text)) == (
        passes(limits.check_line, text) and said
    )


@given(TEXTS)
def test_a_file_name_matches_its_pattern_when_the_domain_takes_it(name: str) -> None:
    assert bool(re.fullmatch(limits.FILE_NAME_PATTERN, name)) == passes(check_name, name)


@given(st.text(st.sampled_from("aZ09.-_+@!#%' \t\u00e9"), min_size=1, max_size=14))
def test_an_email_address_matches_its_pattern_when_the_server_takes_it(address: str) -> None:
    pattern = schemas.EmailAddress.model_json_schema()["properties"]["email"]["pattern"]

    assert bool(re.fullmatch(pattern, address)) == passes(check_email, address)


def test_every_key_hotline_keygen_makes_matches_the_key_pattern() -> None:
    for _ in range(50):
        _, verifier_key = generate_key("ana")
        assert re.fullmatch(schemas.VERIFIER_KEY_PATTERN, verifier_key)


@given(st.binary(min_size=66, max_size=70))
def test_a_signature_matches_its_pattern_when_it_decodes(raw: bytes) -> None:
    for text in (base64.b64encode(raw).decode(), base64.b64encode(raw).decode().rstrip("=")):
        assert bool(re.fullmatch(schemas.SIGNATURE_PATTERN, text)) == passes(_decode, text)


@given(st.from_regex(schemas.WEBHOOK_URL_PATTERN, fullmatch=True))
def test_every_url_of_the_webhook_pattern_has_a_form_the_guard_takes(url: str) -> None:
    parse_url(url)  # raises WebhookAddressRefused if not


@pytest.mark.parametrize(
    "url",
    [
        "ftp://ops.water.example/",
        "https://user:secret@ops.water.example/",
        "https://ops.water.example/#top",
        "https://ops.water.example/a b",
        "https://ops.water.example:65536/",
        "https://[1:2]/",
    ],
)
def test_a_url_the_guard_refuses_for_its_form_does_not_match(url: str) -> None:
    with pytest.raises(WebhookAddressRefused):
        parse_url(url)
    assert not re.fullmatch(schemas.WEBHOOK_URL_PATTERN, url)


@pytest.mark.parametrize("value", [3600, 3600.0])
def test_a_whole_number_may_be_written_with_a_zero_fraction(value: float) -> None:
    assert schemas.RotateRequest.model_validate({"overlap_seconds": value}).overlap_seconds == 3600


@pytest.mark.parametrize("value", ["3600", True, 3600.5, None])
def test_a_number_of_seconds_is_a_json_number(value: object) -> None:
    with pytest.raises(ValidationError):
        schemas.RotateRequest.model_validate({"overlap_seconds": value})


def test_the_document_says_bounds_in_json_schema_words() -> None:
    # Pydantic writes a bound it cannot place as "ge"/"le", which JSON Schema ignores.
    spelled = str(schemas.ProposalRequest.model_json_schema())

    assert "'ge'" not in spelled
    assert "'le'" not in spelled
    assert "'minimum'" in spelled
