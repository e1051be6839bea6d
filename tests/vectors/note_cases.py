"""Signed-note vectors, made with keys from fixed seeds and the note of Go's documentation."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from client.protocol import checkpoint, merkle, note
from client.protocol.checkpoint import Checkpoint
from client.protocol.note import Signer
from tests.vectors.common import Vector, b64, outcome, with_stray_bits
from tests.vectors.merkle_cases import leaf_hashes


def fixed_signer(name: str, label: str) -> Signer:
    """A key made from a fixed seed, so that the vectors come out the same every time."""
    return Signer(name, hashlib.sha256(f"hotline test vector key: {label}".encode()).digest())


LOG_OLD = fixed_signer("hotline.localhost", "the log's key of 2025")
LOG = fixed_signer("hotline.localhost", "the log's key of 2026")
WITNESS = fixed_signer("witness.example", "a witness")
STRANGER = fixed_signer("stranger.example", "a stranger")

# The example of golang.org/x/mod/sumdb/note's documentation, made by Go's note.Sign.
GO_SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    f"{GO_TEXT}\n\N{EM DASH} PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def verifier(signer: Signer) -> str:
    return str(signer.verifier())


def checkpoint_text(size: int = 3) -> str:
    return checkpoint.format(
        Checkpoint("hotline.localhost/water-roads", size, merkle.root_hash(leaf_hashes()[:size]))
    )


def last_line(signed: str) -> str:
    return signed.removesuffix("\n").rsplit("\n", 1)[1]


def replace_last_line(signed: str, line: str) -> str:
    return signed.removesuffix("\n").rsplit("\n", 1)[0] + "\n" + line + "\n"


def respell_signature(signed: str, change: Callable[[str], str]) -> str:
    """The note with the base64 of its last signature respelled by ``change``."""
    head, _, signature = last_line(signed).rpartition(" ")
    return replace_last_line(signed, f"{head} {change(signature)}")


def note_case(name: str, signed: str, keys: Sequence[str]) -> Vector:
    opened: list[str] = []
    result = outcome(lambda: opened.append(note.open_note(signed, list(keys))))
    return {
        "name": name,
        "note": signed,
        "keys": list(keys),
        "text": (opened or [None])[0],
        **result,
    }


def good_notes() -> list[Vector]:
    text = checkpoint_text()
    both = note.sign_note(text, [LOG, WITNESS])
    crowd = [fixed_signer(f"witness-{i}.example", f"witness {i}") for i in range(99)]
    unusual = fixed_signer(
        "wasser.example/s\u00fcd\ufeff", "a name with a zero-width no-break space"
    )
    return [
        note_case("one signature by the one known key", note.sign_note(text, LOG), [verifier(LOG)]),
        note_case("the note of Go's documentation", GO_NOTE, [GO_VERIFIER]),
        note_case("the log's and a witness's signature, the log known", both, [verifier(LOG)]),
        note_case(
            "the log's and a witness's signature, the witness known", both, [verifier(WITNESS)]
        ),
        note_case(
            "the log's and a witness's signature, both known",
            both,
            [verifier(LOG), verifier(WITNESS)],
        ),
        note_case(
            "a stranger's signature before the known one is passed over",
            note.sign_note(text, [STRANGER, LOG]),
            [verifier(LOG)],
        ),
        note_case(
            "a rotated key: signed with the old and the new key, the new one known",
            note.sign_note(text, [LOG_OLD, LOG]),
            [verifier(LOG)],
        ),
        note_case(
            "a rotated key: signed with the old key, both known",
            note.sign_note(text, LOG_OLD),
            [verifier(LOG_OLD), verifier(LOG)],
        ),
        note_case(
            "a text with a blank line of its own",
            note.sign_note("first paragraph\n\nsecond paragraph\n", LOG),
            [verifier(LOG)],
        ),
        note_case(
            "a text beyond ASCII",
            note.sign_note("Wasserwerk S\u00fcd \N{EM DASH} Stra\u00dfenbau \U0001f6a7\n", LOG),
            [verifier(LOG)],
        ),
        note_case(
            "a key name beyond ASCII, with a U+FEFF that is no space",
            note.sign_note(text, unusual),
            [verifier(unusual)],
        ),
        note_case(
            "100 signatures, the last one known",
            note.sign_note(text, [*crowd, LOG]),
            [verifier(LOG)],
        ),
    ]


# Notes that one replacement in a well-signed note makes malformed: (name, old, new).
RESPELLINGS = [
    ("no blank line", "\n\n", "\n"),
    ("a hyphen for the em dash", "\N{EM DASH}", "-"),
    ("no space after the em dash", "\N{EM DASH} ", "\N{EM DASH}"),
    ("no space before the signature", "hotline.localhost ", "hotline.localhost"),
    ("a + in the key name", "\N{EM DASH} hotline.", "\N{EM DASH} hotline+"),
    (
        "a U+0085 in the key name, a space to Python",
        "\N{EM DASH} hotline.",
        "\N{EM DASH} hotline\x85",
    ),
    ("a no-break space in the key name", "\N{EM DASH} hotline.", "\N{EM DASH} hotline\xa0"),
    ("a tab in the text", "hotline.localhost/", "hotline.localhost\t"),
    ("carriage returns", "\n", "\r\n"),
    ("a lone surrogate in the text", "/water", "/\ud800water"),
]


def refused_notes() -> list[Vector]:
    text = checkpoint_text()
    signed = note.sign_note(text, LOG)
    keys = [verifier(LOG)]
    stranger_line = last_line(note.sign_note(text, STRANGER))
    crowd = [fixed_signer(f"witness-{i}.example", f"witness {i}") for i in range(100)]

    def flip_last_character(signature: str) -> str:
        return signature[:-6] + ("A" if signature[-6] != "A" else "B") + signature[-5:]

    def shortened(keep: int) -> Callable[[str], str]:
        return lambda signature: b64(base64.b64decode(signature)[:keep])

    key_id = LOG.key_id
    return [
        note_case("signed by a stranger only", note.sign_note(text, STRANGER), keys),
        note_case("no key known at all", signed, []),
        note_case("a changed signature", respell_signature(signed, flip_last_character), keys),
        note_case("the text changed after signing", signed.replace("\n3\n", "\n4\n"), keys),
        note_case(
            "a good signature and a bad one by known keys",
            respell_signature(note.sign_note(text, [LOG, WITNESS]), flip_last_character),
            [verifier(LOG), verifier(WITNESS)],
        ),
        note_case(
            "the known key's name and ID on a stranger's signature",
            replace_last_line(
                signed,
                "\N{EM DASH} hotline.localhost "
                + b64(key_id + base64.b64decode(stranger_line.rpartition(" ")[2])[4:]),
            ),
            keys,
        ),
        note_case("a signature one byte short", respell_signature(signed, shortened(67)), keys),
        note_case("a key ID and one byte", respell_signature(signed, shortened(5)), keys),
        note_case("a key ID alone", respell_signature(signed, shortened(4)), keys),
        note_case(
            "a signature in non-canonical base64", respell_signature(signed, with_stray_bits), keys
        ),
        note_case(
            "a signature in base64 without padding",
            respell_signature(signed, lambda s: s.rstrip("=")),
            keys,
        ),
        note_case(
            "a signature that is not base64",
            respell_signature(signed, lambda s: s.replace("=", "!")),
            keys,
        ),
        *(note_case(name, signed.replace(old, new), keys) for name, old, new in RESPELLINGS),
        note_case("no newline at the end", signed.removesuffix("\n"), keys),
        note_case("a blank line after the signatures", signed + "\n", keys),
        note_case("no signature at all", text + "\n", keys),
        note_case("101 signatures", note.sign_note(text, [*crowd, LOG]), keys),
        note_case("a malformed verifier key", signed, [verifier(LOG).replace("+", " ", 1)]),
    ]


def verifier_key_case(name: str, key: str) -> Vector:
    return {"name": name, "key": key, **outcome(lambda: note.Verifier.parse(key))}


def verifier_key_vectors() -> list[Vector]:
    key = verifier(LOG)
    name, key_id, public = key.split("+", 2)
    raw = base64.b64decode(public)
    wrong_id = f"{int(key_id, 16) ^ 1:08x}"
    return [
        verifier_key_case("the log's key", key),
        verifier_key_case("a witness's key", verifier(WITNESS)),
        verifier_key_case("the key of Go's documentation", GO_VERIFIER),
        verifier_key_case("a key ID that is not the key's", f"{name}+{wrong_id}+{public}"),
        verifier_key_case("a key ID in upper case", f"{name}+{key_id.upper()}+{public}"),
        verifier_key_case("a key ID of seven digits", f"{name}+{key_id[:7]}+{public}"),
        verifier_key_case("a key that is not base64", f"{name}+{key_id}+{public[:-1]}!"),
        verifier_key_case("a key without its algorithm byte", f"{name}+{key_id}+{b64(raw[1:])}"),
        verifier_key_case(
            "a key of another algorithm", f"{name}+{key_id}+{b64(bytes([2]) + raw[1:])}"
        ),
        verifier_key_case("a key one byte short", f"{name}+{key_id}+{b64(raw[:-1])}"),
        verifier_key_case("an empty name", f"+{key_id}+{public}"),
        verifier_key_case("a space in the name", f"hotline localhost+{key_id}+{public}"),
        verifier_key_case("only a name and a key ID", f"{name}+{key_id}"),
        verifier_key_case("a signer key", GO_SIGNER),
    ]


def note_vectors() -> dict[str, Any]:
    assert note.sign_note(GO_TEXT, GO_SIGNER) == GO_NOTE
    return {
        "about": (
            "C2SP signed notes with Ed25519 keys, signed through client/protocol/note.py with "
            "keys from fixed seeds. keys: the verifier keys used here. verifier_keys: "
            "{name, key, error, message}, parsing one key string. notes: {name, note, keys, "
            "text, error, message}: opening the note with those keys gives text, or refuses "
            "with error (a Python class under NoteError) and message."
        ),
        "keys": [
            {"name": signer.name, "label": label, "verifier": verifier(signer)}
            for label, signer in [
                ("the log's old key", LOG_OLD),
                ("the log's key", LOG),
                ("a witness", WITNESS),
                ("a stranger", STRANGER),
            ]
        ],
        "verifier_keys": verifier_key_vectors(),
        "notes": good_notes() + refused_notes(),
    }
