"""The Python side of the shared protocol vectors (tests/vectors/), which the JavaScript SDK's
tests read too: the files are what make_vectors.py writes now, and the Python protocol code
accepts and refuses each vector as its file says."""

from __future__ import annotations

import base64
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import rfc8785

from client.protocol import checkpoint, merkle, note, signatures
from client.protocol.log import CompactRange, event_hash, leaf_bytes, origin
from client.protocol.schemas import NoticeDraft
from tests.vectors import make_vectors
from tests.vectors.common import outcome

VECTORS = Path(make_vectors.__file__).parent


@cache
def vectors(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def hashes(encoded: list[str]) -> list[bytes]:
    return [base64.b64decode(h, validate=True) for h in encoded]


def stated(vector: Any) -> dict[str, str | None]:
    """The outcome a vector's file states."""
    return {"error": vector["error"], "message": vector["message"]}


def named(kind: str, group: str) -> list[Any]:
    """The vectors of one list of a file, each a pytest parameter with its name as id."""
    return [pytest.param(vector, id=vector["name"]) for vector in vectors(kind)[group]]


def test_the_committed_vectors_are_what_make_vectors_writes_now() -> None:
    written = make_vectors.documents()

    assert sorted(path.name for path in VECTORS.glob("*.json")) == sorted(written)
    stale = [name for name, text in written.items() if (VECTORS / name).read_text() != text]
    assert stale == [], "run: python tests/vectors/make_vectors.py"


def test_the_vectors_stay_well_under_two_megabytes() -> None:
    assert sum(path.stat().st_size for path in VECTORS.glob("*.json")) < 1_700_000


# ---------------------------------------------------------------------------------------
# Merkle trees
# ---------------------------------------------------------------------------------------


def test_every_leaf_hash_and_every_root_of_0_to_64_leaves_is_as_written() -> None:
    tree = vectors("merkle.json")
    leaves = hashes([leaf["hash"] for leaf in tree["leaves"]])

    assert leaves == [merkle.leaf_hash(d) for d in hashes([x["data"] for x in tree["leaves"]])]
    assert hashes(tree["roots"]) == [merkle.root_hash(leaves[:n]) for n in range(65)]


def test_every_inclusion_proof_of_every_tree_holds() -> None:
    tree = vectors("merkle.json")
    leaves, roots = hashes([leaf["hash"] for leaf in tree["leaves"]]), hashes(tree["roots"])

    for size, proofs in enumerate(tree["inclusion"]):
        assert len(proofs) == size
        for index, proof in enumerate(proofs):
            merkle.verify_inclusion(leaves[index], index, size, hashes(proof), roots[size])


def test_every_consistency_proof_of_every_pair_of_trees_holds() -> None:
    tree = vectors("merkle.json")
    roots = hashes(tree["roots"])

    for new_size, proofs in enumerate(tree["consistency"]):
        assert len(proofs) == new_size + 1
        for old_size, proof in enumerate(proofs):
            merkle.verify_consistency(
                old_size, new_size, hashes(proof), roots[old_size], roots[new_size]
            )


def inclusion_outcome(v: Any) -> dict[str, str | None]:
    leaf, root = base64.b64decode(v["leaf_hash"]), base64.b64decode(v["root"])
    return outcome(
        lambda: merkle.verify_inclusion(leaf, v["index"], v["size"], hashes(v["proof"]), root)
    )


def consistency_outcome(v: Any) -> dict[str, str | None]:
    old_root, new_root = base64.b64decode(v["old_root"]), base64.b64decode(v["new_root"])
    sizes = v["old_size"], v["new_size"]
    return outcome(
        lambda: merkle.verify_consistency(*sizes, hashes(v["proof"]), old_root, new_root)
    )


def test_every_mutated_proof_gets_the_outcome_its_file_states() -> None:
    mutated = vectors("merkle-mutated.json")

    wrong = [v["name"] for v in mutated["inclusion"] if inclusion_outcome(v) != stated(v)]
    wrong += [v["name"] for v in mutated["consistency"] if consistency_outcome(v) != stated(v)]

    assert wrong == []
    assert sum(v["error"] == "ProofError" for v in mutated["inclusion"]) > 400
    assert sum(v["error"] == "ProofError" for v in mutated["consistency"]) > 500


# ---------------------------------------------------------------------------------------
# Canonical JSON, events and compact ranges
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", named("canonical.json", "vectors"))
def test_each_canonical_json_vector_is_written_or_refused_as_stated(vector: Any) -> None:
    value = json.loads(vector["json"]) if "json" in vector else float(vector["number"])
    if vector["canonical"] is None:
        assert outcome(lambda: rfc8785.dumps(value))["error"] == vector["error"]
    else:
        assert rfc8785.dumps(value) == vector["canonical"].encode("utf-8")


@pytest.mark.parametrize("vector", named("log.json", "events"))
def test_each_events_leaf_is_its_canonical_json(vector: Any) -> None:
    assert leaf_bytes(vector["event"]) == vector["canonical"].encode("utf-8")
    assert event_hash(vector["event"]) == base64.b64decode(vector["leaf_hash"])


def test_the_events_root_is_the_root_of_their_leaves_in_order() -> None:
    log = vectors("log.json")

    leaves = [event_hash(v["event"]) for v in log["events"]]
    assert merkle.root_hash(leaves) == base64.b64decode(log["events_root"])


def test_each_compact_range_is_the_range_of_its_leaves_and_folds_to_their_root() -> None:
    leaves = hashes([leaf["hash"] for leaf in vectors("merkle.json")["leaves"]])
    roots = hashes(vectors("merkle.json")["roots"])

    for size, raw in enumerate(vectors("log.json")["compact_ranges"]):
        built = CompactRange()
        built.extend(leaves[:size])
        assert built.to_json() == raw
        assert CompactRange.from_json(raw).root() == roots[size]


def test_each_origin_is_the_log_name_and_the_channel() -> None:
    for v in vectors("log.json")["origins"]:
        assert origin(v["log_name"], v["channel"]) == v["origin"]


# ---------------------------------------------------------------------------------------
# Signed notes and checkpoints
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", named("notes.json", "verifier_keys"))
def test_each_verifier_key_is_read_or_refused_as_stated(vector: Any) -> None:
    assert outcome(lambda: note.Verifier.parse(vector["key"])) == stated(vector)
    if vector["error"] is None:
        assert str(note.Verifier.parse(vector["key"])) == vector["key"]


@pytest.mark.parametrize("vector", named("notes.json", "notes"))
def test_each_note_opens_or_is_refused_as_stated(vector: Any) -> None:
    assert outcome(lambda: note.open_note(vector["note"], vector["keys"])) == stated(vector)
    if vector["error"] is None:
        assert note.open_note(vector["note"], vector["keys"]) == vector["text"]


def as_json(parsed: checkpoint.Checkpoint) -> dict[str, Any]:
    return {
        "origin": parsed.origin,
        "size": str(parsed.size),
        "root_hash": base64.b64encode(parsed.root_hash).decode(),
        "extensions": list(parsed.extensions),
    }


@pytest.mark.parametrize("vector", named("checkpoints.json", "parse"))
def test_each_checkpoint_text_is_read_or_refused_as_stated(vector: Any) -> None:
    assert outcome(lambda: checkpoint.parse(vector["text"])) == stated(vector)
    if vector["error"] is None:
        parsed = checkpoint.parse(vector["text"])
        assert as_json(parsed) == vector["checkpoint"]
        assert checkpoint.format(parsed) == vector["text"]
        assert vector["beyond_safe_integer"] == (parsed.size > 2**53 - 1)


@pytest.mark.parametrize("vector", named("checkpoints.json", "open"))
def test_each_signed_checkpoint_opens_or_is_refused_as_stated(vector: Any) -> None:
    def opened() -> checkpoint.Checkpoint:
        return checkpoint.open_checkpoint(vector["note"], vector["keys"], origin=vector["origin"])

    assert outcome(opened) == stated(vector)
    if vector["error"] is None:
        assert as_json(opened()) == vector["checkpoint"]


@pytest.mark.parametrize("vector", named("signatures.json", "vectors"))
def test_each_signing_vector_is_the_content_signed_content_makes(vector: Any) -> None:
    content = signatures.signed_content(
        channel=vector["channel"],
        event_type=vector["event_type"],
        party=vector["party"],
        operator=vector["operator"],
        data=vector["data"],
    )

    assert base64.b64encode(content).decode() == vector["content"]


@pytest.mark.parametrize("vector", named("signatures.json", "drafts"))
def test_each_draft_signs_the_content_its_vector_states(vector: Any) -> None:
    draft = NoticeDraft.model_validate(vector["draft"])
    content = signatures.notice_content(
        draft, channel=vector["channel"], party=vector["party"], operator=vector["operator"]
    )

    assert base64.b64encode(content).decode() == vector["content"]
