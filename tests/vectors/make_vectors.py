"""Write the protocol vectors that the Python and the JavaScript tests both read.

Every expected value here is computed by the Python protocol code (``client/protocol``),
then checked, where one exists, against a value published by someone else: the roots of
certificate-transparency-go's test tree, RFC 8785's own examples, the note in the
documentation of Go's ``golang.org/x/mod/sumdb/note``. The JavaScript SDK must then agree
with every vector, and ``tests/unit/protocol/test_vectors.py`` fails when the committed
files differ from what this script writes now, so neither side can drift alone.

The output is deterministic: keys come from fixed seeds and Ed25519 signs deterministically.
Regenerate with::

    python tests/vectors/make_vectors.py

The files and the shape of their JSON are described in ``tests/vectors/README.md``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import rfc8785

from client.protocol import checkpoint, merkle, note
from client.protocol.checkpoint import Checkpoint
from client.protocol.log import CompactRange, event_hash, leaf_bytes, origin
from client.protocol.note import Signer

HERE = Path(__file__).parent
TREE_SIZE = 64

Vector = dict[str, Any]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def render(document: dict[str, Any]) -> str:
    """JSON with one top-level member, and one element of each top-level list, per line.

    Compact enough for the big files, and a changed vector is a changed line in a diff.
    """
    lines = []
    for key, value in document.items():
        name = json.dumps(key)
        if isinstance(value, list):
            items = [json.dumps(item, separators=(",", ":")) for item in value]
            lines.append(f"{name}:[\n" + ",\n".join(items) + "\n]")
        else:
            lines.append(f"{name}:{json.dumps(value, separators=(',', ':'))}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def outcome(check: Callable[[], object]) -> dict[str, str | None]:
    """What the Python code says of a vector: no error, or the error's class and message."""
    try:
        check()
    except ValueError as error:
        return {"error": type(error).__name__, "message": str(error)}
    return {"error": None, "message": None}


# ---------------------------------------------------------------------------------------
# Merkle trees
# ---------------------------------------------------------------------------------------

# The leaves of certificate-transparency-go's merkle tests, and the roots it publishes for
# the trees of their first 1..8 leaves (merkle/testonly/constants.go).
CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def leaf_data() -> list[bytes]:
    return CT_LEAVES + [f"hotline leaf {i}".encode() for i in range(len(CT_LEAVES), TREE_SIZE)]


def leaf_hashes() -> list[bytes]:
    return [merkle.leaf_hash(data) for data in leaf_data()]


def merkle_vectors() -> dict[str, Any]:
    data, leaves = leaf_data(), leaf_hashes()
    roots = [merkle.root_hash(leaves[:n]) for n in range(TREE_SIZE + 1)]
    assert [root.hex() for root in roots[1 : len(CT_ROOTS) + 1]] == CT_ROOTS
    assert roots[0] == merkle.EMPTY_ROOT
    inclusion = [
        [[b64(h) for h in merkle.inclusion_proof(i, leaves[:n])] for i in range(n)]
        for n in range(TREE_SIZE + 1)
    ]
    consistency = [
        [[b64(h) for h in merkle.consistency_proof(m, leaves[:n])] for m in range(n + 1)]
        for n in range(TREE_SIZE + 1)
    ]
    return {
        "about": (
            "RFC 6962 tree of the first n of 64 leaves, for every n in 0..64. "
            "leaves[i]: {data, hash} (base64). roots[n]: root of the first n leaves. "
            "inclusion[n][i]: proof of leaf i in the tree of n leaves (lowest hash first). "
            "consistency[n][m]: proof that the tree of n leaves extends the tree of m. "
            "Every proof here holds; merkle-mutated.json has the ones that must not."
        ),
        "leaves": [{"data": b64(d), "hash": b64(h)} for d, h in zip(data, leaves, strict=True)],
        "roots": [b64(root) for root in roots],
        "inclusion": inclusion,
        "consistency": consistency,
    }


def flip_bit(digest: bytes, bit: int = 0) -> bytes:
    return digest[: bit // 8] + bytes([digest[bit // 8] ^ (1 << bit % 8)]) + digest[bit // 8 + 1 :]


def inclusion_case(
    name: str, leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> Vector:
    return {
        "name": name,
        "leaf_hash": b64(leaf),
        "index": index,
        "size": size,
        "proof": [b64(h) for h in proof],
        "root": b64(root),
        **outcome(lambda: merkle.verify_inclusion(leaf, index, size, proof, root)),
    }


def mutated_inclusion(leaves: list[bytes], size: int, index: int) -> list[Vector]:
    """Every way of spoiling the proof of leaf ``index`` in the tree of ``size`` leaves."""
    proof = merkle.inclusion_proof(index, leaves[:size])
    root, leaf = merkle.root_hash(leaves[:size]), leaves[index]
    stray = merkle.leaf_hash(b"not in the tree")
    other_leaf = leaves[(index + 1) % size] if size > 1 else stray
    neighbour = index ^ 1 if index ^ 1 < size else index - 1

    def case(name: str, *args: Any) -> Vector:
        return inclusion_case(f"leaf {index} of {size}: {name}", *args)

    cases = [
        case("the proof as made", leaf, index, size, proof, root),
        case("another leaf", other_leaf, index, size, proof, root),
        case("an extra hash", leaf, index, size, [*proof, stray], root),
        case("the index is the size", leaf, size, size, proof, root),
        case("a negative index", leaf, -1, size, proof, root),
        case("one leaf more", leaf, index, size + 1, proof, root),
        case("twice the size", leaf, index, 2 * size, proof, root),
        case("a flipped bit in the root", leaf, index, size, proof, flip_bit(root)),
        case("a 31-byte leaf hash", leaf[:31], index, size, proof, root),
        case("a 33-byte root", leaf, index, size, proof, root + b"\x00"),
    ]
    if size > 1:
        cases.append(case("the index of its neighbour", leaf, neighbour, size, proof, root))
        cases.append(case("one leaf less", leaf, index, size - 1, proof, root))
    for k, digest in enumerate(proof):
        flipped = [*proof[:k], flip_bit(digest, 8 * k + 3), *proof[k + 1 :]]
        cases.append(case(f"a flipped bit in proof hash {k}", leaf, index, size, flipped, root))
    if proof:
        short = [proof[0][:31], *proof[1:]]
        cases.append(case("the last hash dropped", leaf, index, size, proof[:-1], root))
        cases.append(case("the first hash dropped", leaf, index, size, proof[1:], root))
        cases.append(case("a 31-byte proof hash", leaf, index, size, short, root))
    if len(proof) > 1:
        swapped = [proof[1], proof[0], *proof[2:]]
        cases.append(case("two hashes swapped", leaf, index, size, swapped, root))
    return cases


def consistency_case(
    name: str,
    old_size: int,
    new_size: int,
    proof: Sequence[bytes],
    old_root: bytes,
    new_root: bytes,
) -> Vector:
    return {
        "name": name,
        "old_size": old_size,
        "new_size": new_size,
        "proof": [b64(h) for h in proof],
        "old_root": b64(old_root),
        "new_root": b64(new_root),
        **outcome(lambda: merkle.verify_consistency(old_size, new_size, proof, old_root, new_root)),
    }


def mutated_consistency(leaves: list[bytes], old: int, new: int) -> list[Vector]:
    """Every way of spoiling the proof that the tree of ``new`` leaves extends that of ``old``."""
    proof = merkle.consistency_proof(old, leaves[:new])
    old_root, new_root = merkle.root_hash(leaves[:old]), merkle.root_hash(leaves[:new])
    stray = merkle.leaf_hash(b"not in the tree")
    where = f"{old} to {new}"

    def case(name: str, *args: Any) -> Vector:
        return consistency_case(f"{where}: {name}", *args)

    cases = [
        case("the proof as made", old, new, proof, old_root, new_root),
        case("an extra hash", old, new, [*proof, stray], old_root, new_root),
        case("an empty proof", old, new, [], old_root, new_root),
        case("one old leaf more", old + 1, new, proof, old_root, new_root),
        case("one old leaf less", old - 1, new, proof, old_root, new_root),
        case("one new leaf more", old, new + 1, proof, old_root, new_root),
        case("one new leaf less", old, new - 1, proof, old_root, new_root),
        case("the sizes swapped", new, old, proof, old_root, new_root),
        case("a negative old size", -1, new, proof, old_root, new_root),
        case("the roots swapped", old, new, proof, new_root, old_root),
        case("a flipped bit in the old root", old, new, proof, flip_bit(old_root), new_root),
        case("a flipped bit in the new root", old, new, proof, old_root, flip_bit(new_root)),
        case("a 31-byte old root", old, new, proof, old_root[:31], new_root),
        case("a 33-byte new root", old, new, proof, old_root, new_root + b"\x00"),
        case("the last hash dropped", old, new, proof[:-1], old_root, new_root),
        case("the first hash dropped", old, new, proof[1:], old_root, new_root),
        case("a 31-byte proof hash", old, new, [proof[0][:31], *proof[1:]], old_root, new_root),
    ]
    for k, digest in enumerate(proof):
        flipped = [*proof[:k], flip_bit(digest, 8 * k + 5), *proof[k + 1 :]]
        cases.append(
            case(f"a flipped bit in proof hash {k}", old, new, flipped, old_root, new_root)
        )
    if len(proof) > 1:
        swapped = [proof[1], proof[0], *proof[2:]]
        cases.append(case("two hashes swapped", old, new, swapped, old_root, new_root))
    return cases


def trivial_consistency(leaves: list[bytes], size: int) -> list[Vector]:
    """From the empty tree, and from a tree to itself: nothing to prove, nothing to show."""
    root, empty, stray = merkle.root_hash(leaves[:size]), merkle.EMPTY_ROOT, leaves[0]
    cases = [
        consistency_case(f"0 to {size}: nothing to prove", 0, size, [], empty, root),
        consistency_case(f"0 to {size}: a proof of nothing", 0, size, [stray], empty, root),
        consistency_case(f"0 to {size}: an old root that is not empty", 0, size, [], stray, root),
    ]
    if size == 0:
        return cases
    return [
        *cases,
        consistency_case(f"{size} to {size}: nothing to prove", size, size, [], root, root),
        consistency_case(f"{size} to {size}: a proof of nothing", size, size, [stray], root, root),
        consistency_case(f"{size} to {size}: two roots", size, size, [], root, flip_bit(root)),
    ]


# Every small tree, and the sizes around the powers of two where proofs change shape; the
# trees between add length to the file and nothing new to the checks.
MUTATED_SIZES = [*range(1, 21), 31, 32, 33, 47, 63, 64]


def mutated_vectors() -> dict[str, Any]:
    leaves = leaf_hashes()
    inclusion = [
        inclusion_case(
            "leaf 0 of 0: no leaf is in the empty tree", leaves[0], 0, 0, [], merkle.EMPTY_ROOT
        )
    ]
    consistency = trivial_consistency(leaves, 0)
    for size in MUTATED_SIZES:
        # One leaf, and one older tree, per size: where they fall moves across the tree.
        inclusion += mutated_inclusion(leaves, size, 5 * size // 7)
        consistency += trivial_consistency(leaves, size)
        if size > 1:
            consistency += mutated_consistency(leaves, max(1, 3 * size // 5), size)
    return {
        "about": (
            "Merkle proofs, most of them spoiled, and what verifying each must give: "
            "error null when it holds, else error 'ProofError' and Python's message. "
            "inclusion: {name, leaf_hash, index, size, proof, root, error, message}; "
            "consistency: {name, old_size, new_size, proof, old_root, new_root, error, message}. "
            "Hashes are base64; a proof lists its hashes lowest first."
        ),
        "inclusion": inclusion,
        "consistency": consistency,
    }


# ---------------------------------------------------------------------------------------
# RFC 8785 canonical JSON
# ---------------------------------------------------------------------------------------

# RFC 8785 Appendix B: IEEE 754 bit patterns and how each must be written.
RFC8785_NUMBERS = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]

# RFC 8785 §3.2.2 and §3.2.3: the example of the whole transformation, and of key order.
RFC8785_EXAMPLES = [
    (
        "the example of RFC 8785 section 3.2.2",
        '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], '
        '"string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", '
        '"literals": [null, true, false]}',
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    ),
    (
        "the key order example of RFC 8785 section 3.2.3",
        '{"\\u20ac": "Euro Sign", "\\r": "Carriage Return", "\\ufb33": "Hebrew Letter Dalet '
        'With Dagesh", "1": "One", "\\ud83d\\ude00": "Emoji: Grinning Face", "\\u0080": '
        '"Control", "\\u00f6": "Latin Small Letter O With Diaeresis"}',
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O '
        'With Diaeresis","\u20ac":"Euro Sign","\U0001f600":"Emoji: Grinning Face","\ufb33":'
        '"Hebrew Letter Dalet With Dagesh"}',
    ),
]

CANONICAL_INPUTS = [
    ("an empty object", "{}"),
    ("an empty array", "[]"),
    ("nested objects keep no spaces", '{ "b" : [ 1 , { "d" : null , "c" : true } ] , "a" : "" }'),
    ("a very small number underflows to zero", "-1e-400"),
    ("1e21 has an exponent", "1e21"),
    ("1e20 has none", "1e20"),
    ("1e-7 has an exponent", "1e-7"),
    ("1e-6 has none", "0.000001"),
    ("a float that is a whole number", "100.0"),
    ("the largest safe integer", "9007199254740991"),
    ("the smallest safe integer", "-9007199254740991"),
    ("0.1 + 0.2 as a double", "0.30000000000000004"),
    ("controls are escaped, lower-case hex", '"\\u0000\\u0001\\u001f\\b\\t\\n\\f\\r"'),
    ("quote and backslash are escaped, slash is not", '"\\"\\\\\\/"'),
    ("DEL, U+2028, U+2029 and other non-ASCII stay as they are", '"\\u007f\\u2028\\u2029\\u00e9"'),
    ("a surrogate pair is one character", '"\\ud83d\\ude00"'),
    ("keys sort by UTF-16 code units, not code points", '{"\\uff61": 1, "\\ud83d\\ude00": 2}'),
    ("keys sort as strings, not numbers", '{"10": 1, "9": 2, "1": 3}'),
    ("upper case sorts before lower case", '{"b": 1, "B": 2, "a": 3, "A": 4}'),
    ("a prefix sorts first", '{"ab": 1, "a": 2, "": 3}'),
    (
        "an event",
        '{"seq": 1, "channel": "water-roads", "type": "notice.sent", "at": '
        '"2026-11-21T09:30:00.000Z", "actor": {"party": "water", "operator": "ana"}, '
        '"data": {"subject": "Hydrant test, Caf\\u00e9 Lane", "area": null}}',
    ),
]

# Inputs no canonical form exists for: as JSON text, or as a number spelled for float()
# and Number() alike, where JSON cannot hold it.
CANONICAL_REFUSED = [
    ("a lone high surrogate", {"json": '"\\ud800"'}),
    ("a lone low surrogate in a key", {"json": '{"\\udc00": 1}'}),
    ("surrogates in the wrong order", {"json": '["\\ude00\\ud83d"]'}),
    ("a number too large for a double", {"json": "[1e400]"}),
    ("not a number", {"number": "NaN"}),
    ("infinity", {"number": "Infinity"}),
    ("minus infinity", {"number": "-Infinity"}),
]


def canonical_case(name: str, given: dict[str, str], expected: str | None = None) -> Vector:
    """A vector for the input ``given``: ``{"json": text}`` or ``{"number": spelling}``."""
    value = json.loads(given["json"]) if "json" in given else float(given["number"])
    try:
        canonical: str | None = rfc8785.dumps(value).decode("utf-8")
    except ValueError as error:  # rfc8785 lets a lone surrogate in a key out as UnicodeError
        return {"name": name, **given, "canonical": None, "error": type(error).__name__}
    assert expected is None or canonical == expected, (name, canonical, expected)
    return {"name": name, **given, "canonical": canonical, "error": None}


def canonical_vectors() -> dict[str, Any]:
    vectors = []
    for bits, expected in RFC8785_NUMBERS:
        number = struct.unpack(">d", bytes.fromhex(bits))[0]
        # repr is the shortest text that reads back as the same double
        given = {"json": repr(number)}
        vectors.append(canonical_case(f"RFC 8785 number {bits}", given, expected))
    for name, text, expected in RFC8785_EXAMPLES:
        vectors.append(canonical_case(name, {"json": text}, expected))
    for name, text in CANONICAL_INPUTS:
        vectors.append(canonical_case(name, {"json": text}))
    for name, given in CANONICAL_REFUSED:
        vector = canonical_case(name, given)
        assert vector["error"] is not None, name
        vectors.append(vector)
    return {
        "about": (
            "RFC 8785 canonical JSON. Each vector's input is a JSON text (json) or a number "
            "spelled for float() and Number() (number); canonical is the output text (its "
            "UTF-8 is the canonical form), or null with error naming the Python exception "
            "when the input has no canonical form."
        ),
        "vectors": vectors,
    }


# ---------------------------------------------------------------------------------------
# Signed notes
# ---------------------------------------------------------------------------------------


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

    def stray_bits(signature: str) -> str:
        # 68 bytes are 90 digits and one '='; the last digit holds 2 bits that must be 0.
        digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        last = digits.index(signature[-2])
        return signature[:-2] + digits[last | 1] + "="

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
            "a signature in non-canonical base64", respell_signature(signed, stray_bits), keys
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


# ---------------------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------------------

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
    digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    stray = root[:-2] + digits[digits.index(root[-2]) | 1] + "="  # 32 bytes: 1 stray bit

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


# ---------------------------------------------------------------------------------------
# The log: event leaves, compact ranges, origins
# ---------------------------------------------------------------------------------------

NOTICE = "84a10a7f-1ef3-4cab-9006-ddf3c09c457f"

EVENTS: list[tuple[str, dict[str, Any]]] = [
    (
        "a notice sent",
        {
            "channel": "water-roads",
            "seq": 1,
            "type": "notice.sent",
            "at": "2026-11-21T05:18:57.997Z",
            "actor": {"party": "water", "operator": "ana"},
            "data": {
                "ack_due_at": "2026-11-24T05:18:57.997Z",
                "ack_required": True,
                "activity": {
                    "ends_at": "2026-11-26T05:18:57.000Z",
                    "starts_at": "2026-11-24T05:18:57.000Z",
                },
                "area": "Mill Lane, numbers 2-40",
                "body": "Open trench on the north side; one lane closed, with traffic lights.",
                "client_time": None,
                "notice": NOTICE,
                "priority": "routine",
                "refers_to": None,
                "subject": "Water main renewal, Mill Lane",
            },
        },
    ),
    (
        "a notice received",
        {
            "channel": "water-roads",
            "seq": 2,
            "type": "notice.received",
            "at": "2026-11-21T05:18:58.259Z",
            "actor": {"party": "roads", "operator": "carla"},
            "data": {"notice": NOTICE},
        },
    ),
    (
        "a notice objected to, with the keys in another order",
        {
            "data": {
                "reason": "We resurface Mill Lane that week.",
                "notice": NOTICE,
                "client_time": None,
            },
            "actor": {"operator": "dev", "party": "roads"},
            "at": "2026-11-21T05:20:00.000Z",
            "type": "notice.objected",
            "seq": 3,
            "channel": "water-roads",
        },
    ),
    (
        "a notice overdue: the server acts, no actor",
        {
            "channel": "water-roads",
            "seq": 4,
            "type": "notice.overdue",
            "at": "2026-11-24T05:19:00.012Z",
            "actor": None,
            "data": {"due_at": "2026-11-24T05:18:57.997Z", "notice": NOTICE},
        },
    ),
    (
        "text that JSON must escape, and text beyond ASCII",
        {
            "channel": "water-roads",
            "seq": 5,
            "type": "notice.sent",
            "at": "2026-11-25T08:00:00.000Z",
            "actor": {"party": "roads", "operator": "dev"},
            "data": {
                "body": 'Line one\nLine two\t"quoted" \\ back\u2028slash \U0001f6a7',
                "subject": "Caf\u00e9 Stra\u00dfe: r\u00e9fection \N{EM DASH} \u6c34\u9053",
                "area": "\u00c5sgatan 7",
            },
        },
    ),
    (
        "a type this client does not know, with numbers",
        {
            "channel": "water-roads",
            "seq": 6,
            "type": "sensor.reading",
            "at": "2026-11-25T08:00:01.000Z",
            "actor": None,
            "data": {
                "litres": 1250,
                "pressure": 4.5,
                "ratio": 0.1,
                "huge": 1e21,
                "tiny": 1e-7,
                "list": [3, 1, 2],
            },
        },
    ),
]


def log_vectors() -> dict[str, Any]:
    leaves = leaf_hashes()
    ranges = []
    running = CompactRange()
    for size in range(TREE_SIZE + 1):
        ranges.append(running.to_json())
        if size < TREE_SIZE:
            running.append(leaves[size])
    assert CompactRange.from_json(ranges[-1]).root() == merkle.root_hash(leaves)
    events = [
        {
            "name": name,
            "event": event,
            "canonical": leaf_bytes(event).decode("utf-8"),
            "leaf_hash": b64(event_hash(event)),
        }
        for name, event in EVENTS
    ]
    event_leaves = [event_hash(event) for _, event in EVENTS]
    return {
        "about": (
            "events: {name, event, canonical, leaf_hash}: an event's leaf is the UTF-8 of its "
            "canonical JSON, hashed as a Merkle leaf; events_root is the root of the tree of "
            "these events in order. compact_ranges[n]: the compact range of the first n "
            "leaves of merkle.json, as CompactRange.to_json() writes it. origins: {log_name, "
            "channel, origin}."
        ),
        "events": events,
        "events_root": b64(merkle.root_hash(event_leaves)),
        "compact_ranges": ranges,
        "origins": [
            {"log_name": log_name, "channel": channel, "origin": origin(log_name, channel)}
            for log_name, channel in [
                ("hotline.localhost", "water-roads"),
                ("hotline.example/city", "water-roads"),
            ]
        ],
    }


# ---------------------------------------------------------------------------------------


def documents() -> dict[str, str]:
    """Every vector file's name and the text it must hold."""
    return {
        "merkle.json": render(merkle_vectors()),
        "merkle-mutated.json": render(mutated_vectors()),
        "canonical.json": render(canonical_vectors()),
        "notes.json": render(note_vectors()),
        "checkpoints.json": render(checkpoint_vectors()),
        "log.json": render(log_vectors()),
    }


def main() -> None:
    for name, text in documents().items():
        (HERE / name).write_text(text, encoding="utf-8")
        print(f"wrote {HERE / name} ({len(text.encode()):,} bytes)")


if __name__ == "__main__":
    main()
