"""Checkpoint vectors: texts to read, well-formed or not, and signed checkpoints to open."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from client.protocol import checkpoint, merkle, note
from client.protocol.checkpoint import Checkpoint
from tests.vectors.common import Vector, b64, outcome, with_stray_bits
from tests.vectors.merkle_cases import leaf_hashes
from tests.vectors.note_cases import LOG, STRANGER, checkpoint_text, verifier

# JavaScript counts exactly only up to this; a checkpoint of a larger tree cannot be used
# for proofs there, so the JavaScript SDK refuses it where Python reads it.
MAX_SAFE_INTEGER = 2**53 - 1


def checkpoint_json(parsed: Checkpoint) -> dict[str, Any]:
    return {
        "origin": parsed.origin,
        "size": str(parsed.size),  # a string: JSON readers may not hold 2**64 - 1 exactly
        "root_hash": b64(parsed.root_hash),
        "extensions": list(parsed.extensions),
    }


def parse_case(name: str, text: str) -> Vector:
    parsed: list[Checkpoint] = []
    result = outcome(lambda: parsed.append(checkpoint.parse(text)))
    return {
        "name": name,
        "text": text,
        "checkpoint": checkpoint_json(parsed[0]) if parsed else None,
        **result,
        "beyond_safe_integer": bool(parsed) and parsed[0].size > MAX_SAFE_INTEGER,
    }


def parse_vectors() -> list[Vector]:
    origin_line = "hotline.localhost/water-roads"
    root = b64(merkle.root_hash(leaf_hashes()[:3]))
    stray = with_stray_bits(root)

    def text(size: str = "3", root_line: str = root, *extra: str, origin: str = origin_line) -> str:
        return "".join(f"{line}\n" for line in (origin, size, root_line, *extra))

    good = [
        ("a checkpoint of three events", checkpoint_text(3)),
        ("the empty log", checkpoint_text(0)),
        ("extension lines are kept in order", text("3", root, "z extension", "a extension")),
        ("an origin beyond ASCII, with spaces", text(origin="wasser.example/s\u00fcd stra\u00dfe")),
        ("the largest size JavaScript counts exactly", text(str(MAX_SAFE_INTEGER))),
        ("a size of 2**53", text(str(2**53))),
        ("the largest size, 2**64 - 1", text(str(checkpoint.MAX_SIZE))),
    ]
    refused = [
        ("no newline at the end", text().removesuffix("\n")),
        ("only an origin and a size", text().rsplit("\n", 2)[0] + "\n"),
        ("nothing at all", ""),
        ("three empty lines", "\n\n\n"),
        ("a size with a plus sign", text("+3")),
        ("a negative size", text("-3")),
        ("a size with a leading zero", text("03")),
        ("a size of two zeros", text("00")),
        ("a size with a space before it", text(" 3")),
        ("a size with a space after it", text("3 ")),
        ("a size with a decimal point", text("3.0")),
        ("a size with an exponent", text("3e0")),
        ("a size in hex", text("0x3")),
        ("an empty size", text("")),
        ("a size in Arabic-Indic digits", text("\u0663")),
        ("a size of 2**64", text(str(2**64))),
        ("a size of twenty nines", text("9" * 20)),
        ("a size of twenty-one digits", text("1" + "0" * 20)),
        ("a root that is not base64", text("3", "not base64!")),
        ("a root in non-canonical base64", text("3", stray)),
        ("a root without its padding", text("3", root.rstrip("="))),
        (
            "a root in URL-safe base64",
            text("3", b64(b"\xfb\xff" * 16).replace("+", "-").replace("/", "_")),
        ),
        ("a root with a space inside", text("3", root[:20] + " " + root[20:])),
        ("a root of 31 bytes", text("3", b64(bytes(31)))),
        ("a root of 33 bytes", text("3", b64(bytes(33)))),
        ("an empty root", text("3", "")),
        ("an empty origin", text(origin="")),
        ("a tab in the origin", text(origin="hotline.localhost\twater-roads")),
        ("carriage returns", text().replace("\n", "\r\n")),
        ("an empty extension line", text("3", root, "")),
        ("an extension line with a control character", text("3", root, "bell \x07")),
    ]
    vectors = [parse_case(name, t) for name, t in good + refused]
    assert all(v["error"] is None for v in vectors[: len(good)])
    assert all(v["error"] is not None for v in vectors[len(good) :])
    return vectors


def open_case(name: str, signed: str, keys: Sequence[str], log_origin: str) -> Vector:
    opened: list[Checkpoint] = []
    result = outcome(
        lambda: opened.append(checkpoint.open_checkpoint(signed, list(keys), origin=log_origin))
    )
    return {
        "name": name,
        "note": signed,
        "keys": list(keys),
        "origin": log_origin,
        "checkpoint": checkpoint_json(opened[0]) if opened else None,
        **result,
        "beyond_safe_integer": bool(opened) and opened[0].size > MAX_SAFE_INTEGER,
    }


def open_vectors() -> list[Vector]:
    signed = note.sign_note(checkpoint_text(3), LOG)
    keys, log_origin = [verifier(LOG)], "hotline.localhost/water-roads"
    return [
        open_case("a checkpoint of this log, signed by its key", signed, keys, log_origin),
        open_case("a checkpoint of another channel", signed, keys, "hotline.localhost/gas-roads"),
        open_case(
            "a checkpoint signed by a stranger",
            note.sign_note(checkpoint_text(3), STRANGER),
            keys,
            log_origin,
        ),
        open_case(
            "a checkpoint changed after signing", signed.replace("\n3\n", "\n4\n"), keys, log_origin
        ),
        open_case(
            "a signed note that is not a checkpoint",
            note.sign_note("hello\n", LOG),
            keys,
            log_origin,
        ),
        open_case(
            "a signed checkpoint of a size beyond JavaScript's integers",
            note.sign_note(checkpoint_text(3).replace("\n3\n", f"\n{2**60}\n"), LOG),
            keys,
            log_origin,
        ),
    ]


def checkpoint_vectors() -> dict[str, Any]:
    return {
        "about": (
            "C2SP tlog-checkpoint texts. parse: {name, text, checkpoint, error, message, "
            "beyond_safe_integer}: reading text gives checkpoint {origin, size (a decimal "
            "string), root_hash (base64), extensions}, or refuses (error, message). Where "
            "beyond_safe_integer is true, Python reads the checkpoint but the JavaScript SDK "
            "refuses it, as its numbers cannot count that far exactly. open: {name, note, keys, "
            "origin, checkpoint, error, message}: opening a signed checkpoint of that origin."
        ),
        "parse": parse_vectors(),
        "open": open_vectors(),
    }
