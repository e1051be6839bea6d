"""Wire schemas of the verifiable log: the server's key, checkpoints and proofs.

Hashes travel as standard base64 (with padding), as in checkpoints themselves.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = ["CheckpointOut", "ConsistencyProofOut", "InclusionProofOut", "LogKeyOut"]


class LogKeyOut(BaseModel):
    """The key that signs this server's checkpoints."""

    name: str = Field(description="The log name: the key's name and every origin's first part.")
    verifier_key: str = Field(
        description="The verifier key (`<name>+<key id>+<base64>`) that opens checkpoints."
    )
    previous_verifier_key: str | None = Field(
        description="During a key rotation, the key being retired, which still signs "
        "checkpoints beside the new one; `null` otherwise."
    )


class CheckpointOut(BaseModel):
    """A channel's signed checkpoint: its log's size and Merkle root, signed by the server."""

    origin: str = Field(description="`<log name>/<channel id>`: whose log this is.")
    size: int = Field(description="How many events the tree holds: events 1 to `size`.")
    root_hash: str = Field(description="The RFC 6962 Merkle root of those events, base64.")
    note: str = Field(
        description="The checkpoint as a C2SP signed note: what a client checks and keeps."
    )


class InclusionProofOut(BaseModel):
    """The RFC 9162 proof that one event is in the tree of the first `size` events."""

    seq: int = Field(description="The event; its leaf index is `seq - 1`.")
    size: int = Field(description="The tree size the proof is for.")
    hashes: list[str] = Field(description="The proof's hashes, base64, from the leaf up.")


class ConsistencyProofOut(BaseModel):
    """The RFC 9162 proof that the tree of `size` events extends the tree of `old_size`."""

    old_size: int = Field(description="The earlier tree size.")
    size: int = Field(description="The later tree size.")
    hashes: list[str] = Field(description="The proof's hashes, base64.")
