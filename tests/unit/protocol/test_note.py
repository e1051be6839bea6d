"""Signed notes: round trips, the Go reference vector, independent checks, and forgeries."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from client.protocol import note
from client.protocol.note import (
    InvalidSignatureError,
    MalformedNoteError,
    NoteError,
    Signer,
    UnverifiedNoteError,
    Verifier,
)

# The example of golang.org/x/mod/sumdb/note's documentation: a key pair, a text, and the
# note Go's note.Sign makes of them. Ed25519 signatures are deterministic, so ours must
# come out byte for byte the same. Written once, with the vectors the JavaScript reads.
from tests.vectors.note_cases import GO_NOTE, GO_SIGNER, GO_TEXT, GO_VERIFIER

TEXT = "example.com/hotline/channel/7\n3\nu6ZlZu6nTQ6fyKr3SEVw1QBuOGpL1ppXlqtl8ZqJHnQ=\n"
SIGNER, VERIFIER = note.generate_key("example.com/hotline")
OTHER_SIGNER, OTHER_VERIFIER = note.generate_key("example.com/witness")


def signature_line(signed: str) -> str:
    """The last signature line of a signed note, without its newline."""
    return signed.removesuffix("\n").rsplit("\n", 1)[1]


def with_signature_line(line: str) -> str:
    return f"{TEXT}\n{line}\n"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# ---------------------------------------------------------------------------------------
# Round trips and the reference vector
# ---------------------------------------------------------------------------------------


def test_a_signed_note_opens_to_its_text() -> None:
    signed = note.sign_note(TEXT, SIGNER)
    assert signed.startswith(TEXT + "\n\N{EM DASH} example.com/hotline ")
    assert note.open_note(signed, VERIFIER) == TEXT


def test_the_go_reference_note_is_made_byte_for_byte_and_opens() -> None:
    assert note.sign_note(GO_TEXT, GO_SIGNER) == GO_NOTE
    assert note.open_note(GO_NOTE, GO_VERIFIER) == GO_TEXT
    assert note.verifier_key(GO_SIGNER) == GO_VERIFIER


@pytest.mark.parametrize(
    "text",
    [
        "one line\n",
        "\n",
        "a text with\n\nblank lines\n\n",
        "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n",
        "\N{EM DASH} a line that looks like a signature\n",
    ],
)
def test_texts_with_blank_lines_and_unicode_round_trip(text: str) -> None:
    assert note.open_note(note.sign_note(text, SIGNER), VERIFIER) == text


@settings(max_examples=50)
@given(
    text=st.text(
        st.characters(min_codepoint=0x20, exclude_categories=["Cs"]) | st.just("\n"),
        max_size=200,
    )
)
def test_any_text_round_trips(text: str) -> None:
    text += "\n"
    assert note.open_note(note.sign_note(text, SIGNER), VERIFIER) == text


def test_verifiers_may_be_given_as_strings_or_parsed_one_or_many() -> None:
    signed = note.sign_note(TEXT, Signer.parse(SIGNER))
    verifier = Verifier.parse(VERIFIER)
    assert note.open_note(signed, verifier) == TEXT
    assert note.open_note(signed, [OTHER_VERIFIER, verifier]) == TEXT
    assert note.open_note(signed, (key for key in [VERIFIER, VERIFIER])) == TEXT


def test_a_verifier_key_is_derived_from_its_signer_key() -> None:
    assert note.verifier_key(SIGNER) == VERIFIER
    assert str(Signer.parse(SIGNER).verifier()) == VERIFIER
    assert str(Verifier.parse(VERIFIER)) == VERIFIER


def test_a_signer_never_shows_its_private_key() -> None:
    signer = Signer.parse(SIGNER)
    assert b64(signer.seed)[:8] not in repr(signer)
    assert signer.seed.hex() not in repr(signer)


# ---------------------------------------------------------------------------------------
# Independent checks of the format, by hand and with cryptography directly
# ---------------------------------------------------------------------------------------


def test_generated_keys_have_the_documented_form_and_key_id() -> None:
    prefix, key, name, key_id, signer_b64 = SIGNER.split("+", 4)
    assert (prefix, key, name) == ("PRIVATE", "KEY", "example.com/hotline")
    seed = base64.b64decode(signer_b64)
    assert len(seed) == 33
    assert seed[0] == 0x01

    verifier_name, verifier_key_id, verifier_b64 = VERIFIER.split("+", 2)
    public = base64.b64decode(verifier_b64)
    assert (verifier_name, verifier_key_id) == (name, key_id)
    assert len(public) == 33
    assert public[0] == 0x01
    derived = Ed25519PrivateKey.from_private_bytes(seed[1:]).public_key()
    assert derived.public_bytes(Encoding.Raw, PublicFormat.Raw) == public[1:]

    expected_id = hashlib.sha256(name.encode() + b"\n" + b"\x01" + public[1:]).digest()[:4]
    assert key_id == expected_id.hex()


def test_the_go_key_id_is_the_hash_of_name_newline_type_and_key() -> None:
    name, key_id, key_b64 = GO_VERIFIER.split("+", 2)
    typed_key = base64.b64decode(key_b64)
    assert hashlib.sha256(name.encode() + b"\n" + typed_key).digest()[:4].hex() == key_id
    assert Verifier.parse(GO_VERIFIER).key_id.hex() == "c74f20a3"


def test_the_signature_line_verifies_with_cryptography_directly() -> None:
    signed = note.sign_note(TEXT, SIGNER)
    text, signatures = signed.split("\n\n", 1)
    assert text + "\n" == TEXT
    dash, name, blob = signatures.removesuffix("\n").split(" ")
    assert (dash, name) == ("\u2014", "example.com/hotline")
    raw = base64.b64decode(blob, validate=True)
    assert len(raw) == 4 + 64
    assert raw[:4].hex() == VERIFIER.split("+")[1]
    public = base64.b64decode(VERIFIER.split("+", 2)[2])[1:]
    Ed25519PublicKey.from_public_bytes(public).verify(raw[4:], TEXT.encode())


# ---------------------------------------------------------------------------------------
# Forgeries and strangers
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tampered",
    [
        TEXT.replace("3", "4", 1),
        TEXT.upper(),
        TEXT + "another line\n",
        TEXT.removesuffix("\n") + " \n",
        "extra line\n" + TEXT,
    ],
)
def test_tampered_text_is_rejected(tampered: str) -> None:
    signed = note.sign_note(TEXT, SIGNER)
    forged = tampered + signed.removeprefix(TEXT)
    with pytest.raises(InvalidSignatureError) as caught:
        note.open_note(forged, VERIFIER)
    assert caught.value.name == "example.com/hotline"
    assert caught.value.key_id == Verifier.parse(VERIFIER).key_id


@pytest.mark.parametrize("bit", [0, 7, 100, 511])
def test_flipped_bit_in_the_signature_is_rejected(bit: int) -> None:
    line = signature_line(note.sign_note(TEXT, SIGNER))
    dash, name, blob = line.split(" ")
    raw = bytearray(base64.b64decode(blob))
    raw[4 + bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(InvalidSignatureError):
        note.open_note(with_signature_line(f"{dash} {name} {b64(bytes(raw))}"), VERIFIER)


def test_a_signature_of_the_wrong_length_by_a_known_key_is_rejected() -> None:
    key_id = Verifier.parse(VERIFIER).key_id
    line = f"\N{EM DASH} example.com/hotline {b64(key_id + bytes(10))}"
    with pytest.raises(InvalidSignatureError):
        note.open_note(with_signature_line(line), VERIFIER)


def test_a_note_signed_by_another_key_of_the_same_name_is_unverified() -> None:
    impostor, _ = note.generate_key("example.com/hotline")
    with pytest.raises(UnverifiedNoteError) as caught:
        note.open_note(note.sign_note(TEXT, impostor), VERIFIER)
    assert caught.value.signers == ("example.com/hotline",)


def test_a_note_signed_by_an_unknown_name_is_unverified() -> None:
    with pytest.raises(UnverifiedNoteError, match=r"example\.com/witness"):
        note.open_note(note.sign_note(TEXT, OTHER_SIGNER), VERIFIER)


def test_a_known_key_id_under_another_name_is_not_trusted() -> None:
    # The spec: signatures that share a key ID but not a name with a known key are ignored.
    line = signature_line(note.sign_note(TEXT, SIGNER))
    renamed = line.replace("example.com/hotline", "example.com/elsewhere")
    with pytest.raises(UnverifiedNoteError):
        note.open_note(with_signature_line(renamed), VERIFIER)


def test_no_verifier_keys_verify_nothing() -> None:
    with pytest.raises(UnverifiedNoteError):
        note.open_note(note.sign_note(TEXT, SIGNER), [])


def test_unknown_signatures_beside_a_known_one_are_ignored() -> None:
    ours = signature_line(note.sign_note(TEXT, SIGNER))
    theirs = signature_line(note.sign_note(TEXT, OTHER_SIGNER))
    # A signature of some other type, which this module does not even try to read.
    foreign = b64(b"\xff\xff\xff\xff" + b"any signature type")
    stranger = f"\N{EM DASH} stranger.example {foreign}"
    cosigned = f"{TEXT}\n{theirs}\n{stranger}\n{ours}\n"
    assert note.open_note(cosigned, VERIFIER) == TEXT
    assert note.open_note(cosigned, OTHER_VERIFIER) == TEXT
    assert note.open_note(cosigned, [VERIFIER, OTHER_VERIFIER]) == TEXT


def test_one_bad_signature_by_a_known_key_rejects_the_whole_note() -> None:
    ours = signature_line(note.sign_note(TEXT, SIGNER))
    theirs_of_other_text = signature_line(note.sign_note("other\n", OTHER_SIGNER))
    both = f"{TEXT}\n{ours}\n{theirs_of_other_text}\n"
    assert note.open_note(both, VERIFIER) == TEXT
    with pytest.raises(InvalidSignatureError) as caught:
        note.open_note(both, [VERIFIER, OTHER_VERIFIER])
    assert caught.value.name == "example.com/witness"


def test_every_error_is_a_note_error_and_a_value_error() -> None:
    for error in (MalformedNoteError, UnverifiedNoteError, InvalidSignatureError):
        assert issubclass(error, NoteError)
    assert issubclass(NoteError, ValueError)


# ---------------------------------------------------------------------------------------
# Malformed notes
# ---------------------------------------------------------------------------------------


def test_a_note_without_a_blank_line_before_its_signatures_is_malformed() -> None:
    signed = note.sign_note("one line\n", SIGNER)
    with pytest.raises(MalformedNoteError, match="blank line"):
        note.open_note(signed.replace("\n\n", "\n"), VERIFIER)


def test_a_note_without_signatures_is_malformed() -> None:
    with pytest.raises(MalformedNoteError):
        note.open_note(TEXT + "\n", VERIFIER)
    with pytest.raises(MalformedNoteError):
        note.open_note(TEXT, VERIFIER)


def test_a_note_not_ending_in_a_newline_is_malformed() -> None:
    with pytest.raises(MalformedNoteError, match="end with a newline"):
        note.open_note(note.sign_note(TEXT, SIGNER).removesuffix("\n"), VERIFIER)


@pytest.mark.parametrize("character", ["\r", "\t", "\x00", "\x1b", "\ud800"])
def test_a_note_with_a_control_character_or_invalid_utf8_is_malformed(character: str) -> None:
    signed = note.sign_note(TEXT, SIGNER)
    with pytest.raises(MalformedNoteError):
        note.open_note(character + signed, VERIFIER)
    with pytest.raises(MalformedNoteError):
        note.open_note(signed.replace("\n", character + "\n", 1), VERIFIER)


def _valid_line() -> str:
    return signature_line(note.sign_note(TEXT, SIGNER))


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda line: line.replace("\N{EM DASH}", "-"), id="hyphen for em dash"),
        pytest.param(lambda line: line.replace("\N{EM DASH}", "\N{EN DASH}"), id="en dash"),
        pytest.param(lambda line: line.replace("\N{EM DASH} ", "\N{EM DASH}"), id="no space"),
        pytest.param(lambda line: " " + line, id="leading space"),
        pytest.param(lambda line: line + " ", id="trailing space"),
        pytest.param(lambda line: line.replace(" ", "  ", 2), id="double spaces"),
        pytest.param(lambda line: line.rsplit(" ", 1)[0], id="no signature"),
        pytest.param(lambda line: line.replace("example.com/hotline", ""), id="empty name"),
        pytest.param(
            lambda line: line.replace("example.com/hotline", "example.com+hotline"), id="plus"
        ),
        pytest.param(lambda line: line[:-2], id="truncated base64"),
        pytest.param(lambda line: line + "=", id="extra padding"),
        pytest.param(lambda line: line.replace("=", ""), id="missing padding"),
        pytest.param(lambda line: line[:-1] + "*", id="not base64"),
        pytest.param(lambda line: line.rsplit(" ", 1)[0] + " AAAA", id="only a key ID"),
        pytest.param(lambda line: "", id="empty line"),
    ],
)
def test_malformed_signature_lines_are_rejected(mangle: Callable[[str], str]) -> None:
    with pytest.raises(MalformedNoteError):
        note.open_note(with_signature_line(mangle(_valid_line())), VERIFIER)


def test_a_blank_line_among_the_signatures_makes_the_lines_above_it_text() -> None:
    # The text ends at the last blank line, so the first signature is now part of the
    # text it claims to sign, and no longer matches it.
    line = _valid_line()
    with pytest.raises(InvalidSignatureError):
        note.open_note(f"{TEXT}\n{line}\n\n{line}\n", VERIFIER)


def test_non_canonical_base64_in_a_signature_is_malformed() -> None:
    line = _valid_line()
    # 68 bytes end in 2 spare bits; setting one spells the same bytes another way.
    blob = line.rsplit(" ", 1)[1]
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    sloppy = blob[:-2] + last[last.index(blob[-2]) | 1] + "="
    assert sloppy != blob
    assert base64.b64decode(sloppy) == base64.b64decode(blob)
    with pytest.raises(MalformedNoteError):
        note.open_note(with_signature_line(line.replace(blob, sloppy)), VERIFIER)


def test_more_than_a_hundred_signatures_are_refused() -> None:
    stranger = f"\N{EM DASH} stranger.example {b64(bytes(68))}"
    line = _valid_line()
    with pytest.raises(MalformedNoteError, match="at most 100"):
        note.open_note(TEXT + "\n" + f"{stranger}\n" * 100 + line + "\n", VERIFIER)
    assert note.open_note(TEXT + "\n" + f"{stranger}\n" * 99 + line + "\n", VERIFIER) == TEXT


# ---------------------------------------------------------------------------------------
# Refused texts and keys
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "no newline", "carriage return\r\n", "tab\t\n", "\ud800\n"])
def test_texts_that_cannot_be_notes_are_not_signed(text: str) -> None:
    with pytest.raises(NoteError):
        note.sign_note(text, SIGNER)


@pytest.mark.parametrize(
    "name", ["", "two words", "a+b", "tab\tname", "no\u00a0break", "new\nline", "\ud800"]
)
def test_invalid_key_names_are_refused(name: str) -> None:
    with pytest.raises(NoteError, match="not a key name"):
        note.generate_key(name)


def _bump(key: str, position: int) -> str:
    return key[:position] + chr(ord(key[position]) + 1) + key[position + 1 :]


def test_every_substring_and_every_changed_character_of_a_verifier_key_is_refused() -> None:
    for start in range(len(GO_VERIFIER)):
        for end in range(start + 1, len(GO_VERIFIER) + 1):
            if (start, end) != (0, len(GO_VERIFIER)):
                with pytest.raises(NoteError):
                    Verifier.parse(GO_VERIFIER[start:end])
    for position in range(len(GO_VERIFIER)):
        with pytest.raises(NoteError):
            Verifier.parse(_bump(GO_VERIFIER, position))


def test_every_changed_character_of_a_signer_key_is_refused() -> None:
    for position in range(len(GO_SIGNER)):
        with pytest.raises(NoteError):
            Signer.parse(_bump(GO_SIGNER, position))


@pytest.mark.parametrize(
    "key",
    [
        "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # upper-case ID
        "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # short ID
        "PeterNeumann+c74f20a3",  # no key
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWAA==",  # 34 bytes
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # algorithm 0x65
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TX",  # another key
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # space in name
    ],
)
def test_malformed_verifier_keys_are_refused(key: str) -> None:
    with pytest.raises(NoteError):
        note.open_note(GO_NOTE, key)


def test_a_verifier_key_is_not_a_signer_key() -> None:
    with pytest.raises(NoteError, match="PRIVATE"):
        note.sign_note(TEXT, VERIFIER)
    with pytest.raises(NoteError):
        note.open_note(note.sign_note(TEXT, SIGNER), SIGNER)


def test_two_different_verifiers_with_the_same_name_and_key_id_are_ambiguous(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A real collision of key IDs takes about 2**32 tries; pretend we made the effort.
    monkeypatch.setattr(note, "_key_id", lambda _name, _key: b"\x00\x00\x00\x00")
    first = Verifier("example.com/hotline", bytes(32))
    second = Verifier("example.com/hotline", bytes(31) + b"\x01")
    with pytest.raises(NoteError, match="share"):
        note.open_note(GO_NOTE, [first, second])


def test_keys_built_from_parts_are_checked_like_parsed_ones() -> None:
    with pytest.raises(NoteError, match="32 bytes"):
        Verifier("example.com/hotline", bytes(31))
    with pytest.raises(NoteError, match="32 bytes"):
        Signer("example.com/hotline", bytes(33))
    with pytest.raises(NoteError, match="not a key name"):
        Signer("example.com hotline", bytes(32))
