"""Checkpoint texts: one spelling for every tree head, and nothing else accepted."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from client.protocol import checkpoint, note
from client.protocol.checkpoint import MAX_SIZE, Checkpoint, CheckpointError
from client.protocol.note import NoteError

ROOT = bytes.fromhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
ROOT_B64 = base64.b64encode(ROOT).decode("ascii")
ORIGIN = "example.com/hotline/channel/7"
TEXT = f"{ORIGIN}\n8\n{ROOT_B64}\n"

SIGNER, VERIFIER = note.generate_key("example.com/hotline")


def with_spare_bit_set(encoded: str) -> str:
    """Another spelling of the same 32 bytes: their last base64 digit has 2 unused bits."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    sloppy = encoded[:-2] + alphabet[alphabet.index(encoded[-2]) | 1] + "="
    assert sloppy != encoded
    assert base64.b64decode(sloppy) == base64.b64decode(encoded)
    return sloppy


def test_a_checkpoint_is_written_as_origin_size_and_base64_root() -> None:
    assert checkpoint.format(Checkpoint(ORIGIN, 8, ROOT)) == TEXT


def test_a_checkpoint_text_reads_back_as_the_same_checkpoint() -> None:
    assert checkpoint.parse(TEXT) == Checkpoint(ORIGIN, 8, ROOT)


def test_the_example_of_the_specification_parses() -> None:
    parsed = checkpoint.parse(
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    )
    assert parsed.origin == "example.com/behind-the-sofa"
    assert parsed.size == 20852163
    assert parsed.root_hash.hex().startswith("0ac5186a91863e8e")
    assert parsed.extensions == ()


@pytest.mark.parametrize("size", [0, 1, 10, MAX_SIZE])
def test_the_smallest_and_largest_sizes_round_trip(size: int) -> None:
    text = checkpoint.format(Checkpoint(ORIGIN, size, ROOT))
    assert text.splitlines()[1] == str(size)
    assert checkpoint.parse(text).size == size


def test_extension_lines_are_kept_in_order_and_written_back() -> None:
    text = TEXT + "— not a signature\nsecond extension\n"
    parsed = checkpoint.parse(text)
    assert parsed.extensions == ("— not a signature", "second extension")
    assert checkpoint.format(parsed) == text


def test_an_origin_that_is_not_a_url_is_still_an_origin() -> None:
    # The spec only recommends URL-like origins, and tells clients not to assume them.
    text = "Water Utility + Roads Department\n8\n" + ROOT_B64 + "\n"
    assert checkpoint.parse(text).origin == "Water Utility + Roads Department"


@settings(max_examples=100)
@given(
    origin=st.text(st.characters(min_codepoint=0x20, exclude_categories=["Cs"]), min_size=1),
    size=st.integers(0, MAX_SIZE),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(
        st.text(st.characters(min_codepoint=0x20, exclude_categories=["Cs"]), min_size=1),
        max_size=3,
    ),
)
def test_any_checkpoint_round_trips(
    origin: str, size: int, root: bytes, extensions: list[str]
) -> None:
    value = Checkpoint(origin, size, root, tuple(extensions))
    assert checkpoint.parse(checkpoint.format(value)) == value


# ---------------------------------------------------------------------------------------
# Malformed texts
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "size",
    [
        "",
        "08",
        "00",
        "+8",
        "-8",
        " 8",
        "8 ",
        "8.0",
        "1_000",
        "0x10",
        "1e3",
        "\N{FULLWIDTH DIGIT EIGHT}",
        "\N{ARABIC-INDIC DIGIT EIGHT}",
        str(MAX_SIZE + 1),
        "1" + "0" * 40,
        "9" * 5000,
    ],
)
def test_a_size_that_is_not_plain_decimal_in_64_bits_is_refused(size: str) -> None:
    with pytest.raises(CheckpointError, match="size"):
        checkpoint.parse(f"{ORIGIN}\n{size}\n{ROOT_B64}\n")


@pytest.mark.parametrize(
    "root",
    [
        "",
        "not base64!",
        ROOT_B64.removesuffix("="),  # missing padding
        ROOT_B64 + "=",
        " " + ROOT_B64,
        ROOT_B64[:20] + "\N{EM DASH}" + ROOT_B64[21:],
        base64.urlsafe_b64encode(b"\xfb" * 32).decode(),  # the URL alphabet
        base64.b64encode(ROOT[:31]).decode(),
        base64.b64encode(ROOT + b"\x00").decode(),
        with_spare_bit_set(ROOT_B64),
    ],
)
def test_a_root_that_is_not_canonical_base64_of_32_bytes_is_refused(root: str) -> None:
    with pytest.raises(CheckpointError, match="root hash"):
        checkpoint.parse(f"{ORIGIN}\n8\n{root}\n")


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        (TEXT.removesuffix("\n"), "end with a newline"),
        ("", "end with a newline"),
        (f"{ORIGIN}\n8\n", "needs an origin, a size and a root"),
        ("\n", "needs an origin, a size and a root"),
        (f"\n8\n{ROOT_B64}\n", "origin is empty"),
        (TEXT + "\n", "extension line is empty"),
        (TEXT + "ext\n\nmore\n", "extension line is empty"),
        (TEXT.replace("\n", "\r\n"), "size"),
        (f"{ORIGIN}\t\n8\n{ROOT_B64}\n", "origin holds a control character"),
        (TEXT + "ext\x00\n", "extension line holds a control character"),
    ],
)
def test_malformed_checkpoint_texts_are_refused(text: str, complaint: str) -> None:
    with pytest.raises(CheckpointError, match=complaint):
        checkpoint.parse(text)


@pytest.mark.parametrize(
    ("origin", "size", "root", "extensions"),
    [
        ("", 8, ROOT, ()),
        ("two\nlines", 8, ROOT, ()),
        (ORIGIN, -1, ROOT, ()),
        (ORIGIN, MAX_SIZE + 1, ROOT, ()),
        (ORIGIN, 8, ROOT[:31], ()),
        (ORIGIN, 8, b"", ()),
        (ORIGIN, 8, ROOT, ("",)),
        (ORIGIN, 8, ROOT, ("two\nlines",)),
    ],
)
def test_a_checkpoint_that_could_not_be_written_cannot_be_made(
    origin: str, size: int, root: bytes, extensions: tuple[str, ...]
) -> None:
    with pytest.raises(CheckpointError):
        Checkpoint(origin, size, root, extensions)


def test_checkpoint_error_is_a_value_error() -> None:
    assert issubclass(CheckpointError, ValueError)


# ---------------------------------------------------------------------------------------
# Signed checkpoints
# ---------------------------------------------------------------------------------------


def test_a_signed_checkpoint_opens_to_the_same_checkpoint() -> None:
    value = Checkpoint(ORIGIN, 8, ROOT)
    signed = checkpoint.sign_checkpoint(value, SIGNER)
    assert signed.startswith(TEXT + "\n\N{EM DASH} example.com/hotline ")
    assert checkpoint.open_checkpoint(signed, VERIFIER, origin=ORIGIN) == value


def test_a_checkpoint_of_another_log_is_refused_even_with_a_good_signature() -> None:
    signed = checkpoint.sign_checkpoint(
        Checkpoint("example.com/hotline/channel/8", 8, ROOT), SIGNER
    )
    with pytest.raises(CheckpointError, match="channel/8"):
        checkpoint.open_checkpoint(signed, VERIFIER, origin=ORIGIN)


def test_a_checkpoint_signed_by_an_unknown_key_is_refused() -> None:
    stranger, _ = note.generate_key("example.com/hotline")
    signed = checkpoint.sign_checkpoint(Checkpoint(ORIGIN, 8, ROOT), stranger)
    with pytest.raises(NoteError):
        checkpoint.open_checkpoint(signed, VERIFIER, origin=ORIGIN)


def test_a_signed_note_that_is_not_a_checkpoint_is_refused() -> None:
    signed = note.sign_note("just a note\n", SIGNER)
    with pytest.raises(CheckpointError):
        checkpoint.open_checkpoint(signed, VERIFIER, origin=ORIGIN)
