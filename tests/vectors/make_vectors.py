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

Each kind of vector is made by a module beside this one (``merkle_cases.py``,
``canonical_cases.py``, ``note_cases.py``, ``checkpoint_cases.py``, ``log_cases.py``,
``signature_cases.py``); the
files and the shape of their JSON are described in ``tests/vectors/README.md``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # run as a script, Python sees this folder but not the repository
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.vectors.canonical_cases import canonical_vectors
from tests.vectors.checkpoint_cases import checkpoint_vectors
from tests.vectors.log_cases import log_vectors
from tests.vectors.merkle_cases import merkle_vectors, mutated_vectors
from tests.vectors.note_cases import note_vectors
from tests.vectors.signature_cases import signature_vectors

HERE = Path(__file__).parent


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


def documents() -> dict[str, str]:
    """Every vector file's name and the text it must hold."""
    return {
        "merkle.json": render(merkle_vectors()),
        "merkle-mutated.json": render(mutated_vectors()),
        "canonical.json": render(canonical_vectors()),
        "notes.json": render(note_vectors()),
        "checkpoints.json": render(checkpoint_vectors()),
        "log.json": render(log_vectors()),
        "signatures.json": render(signature_vectors()),
    }


def main() -> None:
    for name, text in documents().items():
        (HERE / name).write_text(text, encoding="utf-8")
        print(f"wrote {HERE / name} ({len(text.encode()):,} bytes)")


if __name__ == "__main__":
    main()
