"""The verifiable log through the API: checkpoints, proofs, and the tree behind them.

Every checkpoint and proof the server gives is checked here with the pure protocol code
a client would use, and a checkpoint also with a check written from the C2SP texts
alone, so that the server and ``client/protocol`` cannot share one mistake unseen.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from client.protocol import merkle
from client.protocol.checkpoint import open_checkpoint
from client.protocol.log import event_hash
from client.protocol.note import open_note
from server.service import admin, demo
from server.service import log as log_service
from server.store.db import Database
from tests.integration.conftest import Api

CHANNEL = f"/api/v1/channels/{demo.CHANNEL}"


async def fill(api: Api, count: int) -> list[dict[str, Any]]:
    for n in range(count):
        sent = await api.send("ana", subject=f"Hydrant test, Mill Lane #{n}")
        assert sent.status_code == 201, sent.text
    return await api.log("carla")


async def log_key(api: Api) -> str:
    response = await api.get("carla", "/api/v1/log/key")
    assert response.status_code == 200, response.text
    key: str = response.json()["verifier_key"]
    return key


async def checkpoint(api: Api, operator: str = "carla") -> dict[str, Any]:
    response = await api.get(operator, f"{CHANNEL}/checkpoint")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def b64(digests: list[str]) -> list[bytes]:
    return [base64.b64decode(d) for d in digests]


async def test_the_checkpoint_opens_with_the_served_key_and_covers_the_whole_log(
    api: Api,
) -> None:
    events = await fill(api, 5)
    key = await log_key(api)

    found = await checkpoint(api)
    opened = open_checkpoint(found["note"], key, origin=found["origin"])

    assert found["origin"] == f"hotline.localhost/{demo.CHANNEL}"
    assert opened.size == found["size"] == len(events) == 5
    assert opened.root_hash == merkle.root_hash([event_hash(e) for e in events])
    assert base64.b64decode(found["root_hash"]) == opened.root_hash


async def test_a_checkpoint_passes_a_check_written_from_the_c2sp_texts_alone(api: Api) -> None:
    events = await fill(api, 3)
    key = await log_key(api)
    found = await checkpoint(api)

    # https://c2sp.org/signed-note: text, blank line, "— <name> base64(keyid || sig)".
    name, key_id_hex, key_b64 = key.split("+", 2)
    key_bytes = base64.b64decode(key_b64)
    text, _, signatures = found["note"].rpartition("\n\n")
    text += "\n"
    line = signatures.splitlines()[0]
    assert line.startswith(f"\N{EM DASH} {name} ")
    signature = base64.b64decode(line.split(" ")[2])
    assert key_bytes[0] == 1  # Ed25519
    assert hashlib.sha256(name.encode() + b"\n" + key_bytes).digest()[:4].hex() == key_id_hex
    assert signature[:4].hex() == key_id_hex
    Ed25519PublicKey.from_public_bytes(key_bytes[1:]).verify(signature[4:], text.encode())
    # https://c2sp.org/tlog-checkpoint: origin, size, base64 root; RFC 6962 hashing.
    origin, size, root = text.splitlines()
    leaves = [hashlib.sha256(b"\x00" + rfc8785.dumps(e)).digest() for e in events]
    left = hashlib.sha256(b"\x01" + leaves[0] + leaves[1]).digest()
    assert origin == f"{name}/{demo.CHANNEL}"
    assert size == "3"
    assert base64.b64decode(root) == hashlib.sha256(b"\x01" + left + leaves[2]).digest()
    assert open_note(found["note"], key) == text


async def test_every_inclusion_proof_of_a_small_log_verifies(api: Api) -> None:
    events = await fill(api, 7)
    leaves = [event_hash(e) for e in events]

    for size in range(1, 8):
        root = merkle.root_hash(leaves[:size])
        for seq in range(1, size + 1):
            response = await api.get(
                "carla", f"{CHANNEL}/proofs/inclusion", params={"seq": seq, "size": size}
            )
            assert response.status_code == 200, response.text
            proof = b64(response.json()["hashes"])
            merkle.verify_inclusion(leaves[seq - 1], seq - 1, size, proof, root)


async def test_every_consistency_proof_of_a_small_log_verifies(api: Api) -> None:
    events = await fill(api, 7)
    leaves = [event_hash(e) for e in events]

    for size in range(0, 8):
        for old_size in range(0, size + 1):
            response = await api.get(
                "ben",
                f"{CHANNEL}/proofs/consistency",
                params={"old_size": old_size, "size": size},
            )
            assert response.status_code == 200, response.text
            merkle.verify_consistency(
                old_size,
                size,
                b64(response.json()["hashes"]),
                merkle.root_hash(leaves[:old_size]),
                merkle.root_hash(leaves[:size]),
            )


async def test_proofs_beyond_the_log_or_out_of_order_are_refused_with_a_problem(
    api: Api,
) -> None:
    await fill(api, 2)
    asks = [
        ("inclusion", {"seq": 1, "size": 3}, "size"),
        ("inclusion", {"seq": 3, "size": 2}, "seq"),
        ("consistency", {"old_size": 2, "size": 1}, "old_size"),
        ("consistency", {"old_size": 0, "size": 9}, "size"),
    ]
    for kind, params, field in asks:
        response = await api.get("carla", f"{CHANNEL}/proofs/{kind}", params=params)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["field"] == field


async def test_another_partys_channel_has_no_checkpoint_or_proof_for_the_caller(
    api: Api, db: Database
) -> None:
    await admin.create_party(db, "parks", name="City Parks")
    await admin.create_channel(db, "parks-roads", parties=("parks", "roads"))

    for path in ("checkpoint", "proofs/consistency?old_size=0&size=0"):
        response = await api.get("ana", f"/api/v1/channels/parks-roads/{path}")
        assert response.status_code == 404, response.text


async def test_a_log_written_before_the_tree_gets_it_on_the_next_start(
    api: Api, db: Database
) -> None:
    events = await fill(api, 6)
    async with db.engine.begin() as connection:
        await connection.exec_driver_sql("DELETE FROM log_nodes")

    added = await log_service.build_missing(db)
    found = await checkpoint(api)

    assert added == 6
    assert base64.b64decode(found["root_hash"]) == merkle.root_hash([event_hash(e) for e in events])
