"""Checking a channel's log against the server's signed checkpoints.

:class:`ChannelAuditor` is what a live subscription and ``hotline verify`` use to refuse
a log the server rewrote. It keeps, per channel, the last checkpoint it verified and the
:class:`~client.protocol.log.CompactRange` of the events it has seen, and for each new
signed checkpoint it

- checks the signature with the log's verifier key, and that the origin is this channel's;
- rebuilds the checkpoint's root from the remembered range plus the new events: if it
  matches, every new event is in the log *and* the new log extends the old one;
- if it does not match, asks the server for consistency proofs to find the first event
  that differs (a bisection: O(log n) proofs), and raises :class:`LogTampered`;
- compares a checkpoint that comes without new events (on connecting) with the one it
  remembers, through a consistency proof, and raises :class:`SplitView` when the two
  cannot both be true.

All network reads go through a :class:`ProofSource` handed in, so the logic here can be
tested without a server.
"""

from __future__ import annotations

import base64
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass
from typing import Any, Protocol

from client.errors import LogTampered, SplitView
from client.protocol.checkpoint import Checkpoint, CheckpointError, open_checkpoint
from client.protocol.log import CompactRange, event_hash, origin
from client.protocol.merkle import ProofError, verify_consistency
from client.protocol.note import NoteError, Verifier

__all__ = [
    "ChannelAuditor",
    "LogReader",
    "LogTampered",  # defined in client.errors, with every error the client raises
    "PrefixRoots",
    "ProofSource",
    "SplitView",  # defined in client.errors
    "audit_state",
    "decode_hashes",
    "first_difference",
    "start_auditors",
]

log = logging.getLogger(__name__)

ProofSource = Callable[[int, int], Awaitable[list[bytes]]]
"""``await fetch(old_size, size)``: the server's consistency proof between two sizes."""


class LogReader(Protocol):
    """What a subscription asks the server (over REST) to verify a log; the SDK's client."""

    async def log_key(self) -> str:
        """The server's verifier key."""
        ...

    async def consistency_proof(self, channel: str, old_size: int, size: int) -> list[bytes]:
        """The proof that the tree of ``size`` events extends the one of ``old_size``."""
        ...

    async def compact_range(self, channel: str, size: int) -> CompactRange:
        """The (claimed) range of the first ``size`` events."""
        ...


class PrefixRoots:
    """Roots of every prefix of a run of leaves, each in O(snapshot spacing) hashing.

    Args:
        start: the range before the first leaf.
        leaves: the leaf hashes that follow it.
        every: how many leaves apart to keep a snapshot of the range.
    """

    def __init__(self, start: CompactRange, leaves: Sequence[bytes], *, every: int = 1024) -> None:
        self.start_size = start.size
        self._leaves = leaves
        self._every = every
        self._snapshots: list[CompactRange] = []
        running = deepcopy(start)
        for offset, leaf in enumerate(leaves):
            if offset % every == 0:
                self._snapshots.append(deepcopy(running))
            running.append(leaf)
        self.end = running

    @property
    def end_size(self) -> int:
        """The size of the tree with every leaf."""
        return self.end.size

    def root(self, size: int) -> bytes:
        """The root of the first ``size`` leaves of the whole tree."""
        offset = size - self.start_size
        if not 0 <= offset <= len(self._leaves):
            raise ValueError(f"no prefix of size {size} here")
        if offset == len(self._leaves):
            return self.end.root()
        base = offset // self._every
        built = deepcopy(self._snapshots[base])
        built.extend(self._leaves[base * self._every : offset])
        return built.root()


async def first_difference(roots: PrefixRoots, checkpoint: Checkpoint, fetch: ProofSource) -> int:
    """The first event (seq) where these leaves and the signed tree part ways.

    The leaves up to ``roots.start_size`` are known to agree. A consistency proof from k
    to the checkpoint's size holds exactly when the server's first k leaves are ours, so
    the first k where it fails is found by bisection.
    """
    good, bad = roots.start_size, roots.end_size
    while bad - good > 1:
        middle = (good + bad) // 2
        proof = await fetch(middle, checkpoint.size)
        try:
            verify_consistency(
                middle, checkpoint.size, proof, roots.root(middle), checkpoint.root_hash
            )
        except ProofError:
            bad = middle
        else:
            good = middle
    return bad


@dataclass
class _Pending:
    seq: int
    leaf: bytes
    payload: Any


class ChannelAuditor:
    """One channel's audit state: the last verified checkpoint and the events seen.

    Args:
        channel: the channel's id.
        verifier_keys: the log's verifier keys (``<name>+<key id>+<base64>``); the first
            one's name is the log name in the channel's origin.
        fetch: the server's consistency proofs, for pinpointing and for catching up.
        handled: the range of the events already handled (from a resume file), if any.
        checkpoint: the last checkpoint note verified (from a resume file), if any.
        previous_keys: keys that may open ``checkpoint`` only, and nothing after it: the
            log's keys before a rotation the caller has accepted.
    """

    def __init__(
        self,
        channel: str,
        verifier_keys: Sequence[str],
        fetch: ProofSource,
        *,
        handled: CompactRange | None = None,
        checkpoint: str | None = None,
        previous_keys: Sequence[str] = (),
    ) -> None:
        self.channel = channel
        self._keys = [Verifier.parse(key) for key in verifier_keys]
        self.origin = origin(self._keys[0].name, channel)
        self._fetch = fetch
        self.handled = handled or CompactRange()
        self.seen = deepcopy(self.handled)  # every event received, verified or not
        self._verified = deepcopy(self.handled)  # the range at the last verified event
        self._pending: list[_Pending] = []
        self._unhandled: list[_Pending] = []
        self.note: str | None = None
        self.checkpoint: Checkpoint | None = None
        if checkpoint is not None:
            self.checkpoint, self.note = (
                self._open_remembered(checkpoint, previous_keys),
                checkpoint,
            )

    # -- state a resume file keeps ------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """What to remember: the last verified checkpoint and the handled events' range."""
        return {"checkpoint": self.note, "range": self.handled.to_json()}

    @classmethod
    def from_state(
        cls,
        channel: str,
        verifier_keys: Sequence[str],
        fetch: ProofSource,
        raw: Mapping[str, Any],
        *,
        previous_keys: Sequence[str] = (),
    ) -> ChannelAuditor:
        """An auditor from what :meth:`state` returned."""
        note = raw.get("checkpoint")
        return cls(
            channel,
            verifier_keys,
            fetch,
            handled=CompactRange.from_json(raw["range"]),
            checkpoint=note if isinstance(note, str) else None,
            previous_keys=previous_keys,
        )

    # -- checkpoints ---------------------------------------------------------------------

    def _open_remembered(self, note: str, previous_keys: Sequence[str]) -> Checkpoint:
        """The remembered checkpoint: by the log's key, or by one it rotated away from (whose
        name, and so origin, may differ: the tree is the same)."""
        for key in map(Verifier.parse, previous_keys):
            with contextlib.suppress(NoteError, CheckpointError):
                return open_checkpoint(note, [key], origin=origin(key.name, self.channel))
        return self._open(note)

    def _open(self, note: str) -> Checkpoint:
        try:
            return open_checkpoint(note, self._keys, origin=self.origin)
        except (NoteError, CheckpointError) as exc:
            raise LogTampered(
                f"a checkpoint of {self.channel} is not signed by the log's key: {exc} (if "
                "the server's operator rotated the key, check the new one and pin it)",
                channel=self.channel,
            ) from exc

    async def check_checkpoint(self, note: str) -> None:
        """Check a checkpoint that arrives without events (on subscribing) against the last.

        Raises:
            LogTampered: the note is not a valid checkpoint of this channel.
            SplitView: it contradicts the checkpoint verified before.
        """
        latest = self._open(note)
        if self.checkpoint is not None and self.note is not None:
            old = self.checkpoint
            if latest.size < old.size or (
                latest.size == old.size and latest.root_hash != old.root_hash
            ):
                raise SplitView(
                    f"{self.channel}: the server's log of {latest.size} events is not the log "
                    f"of {old.size} events it signed before: history was rewritten",
                    channel=self.channel,
                    earlier=self.note,
                    later=note,
                )
            if latest.size > old.size:
                await self._prove_prefix(
                    old,
                    latest,
                    earlier=self.note,
                    later=note,
                    why=f"the log of {latest.size} events does not extend the one of "
                    f"{old.size} events signed before: history was rewritten",
                )
        if latest.size == self.seen.size and latest.root_hash != self.seen.root():
            raise LogTampered(
                f"{self.channel}: the events seen do not match the checkpoint",
                channel=self.channel,
            )
        if self.checkpoint is None or latest.size >= self.checkpoint.size:
            self.checkpoint, self.note = latest, note

    # -- events --------------------------------------------------------------------------

    async def add(
        self, event: Mapping[str, Any], payload: Any, checkpoint: str | None = None
    ) -> list[Any]:
        """Take the next event; return the payloads that are now verified, in order.

        Args:
            event: the event as received (decoded JSON, not a model).
            payload: what to hand back once the event is verified.
            checkpoint: the signed checkpoint that came with it, if any.

        Raises:
            LogTampered: an event is missing, or the events do not match the checkpoint.
            SplitView: the checkpoint contradicts one verified before.
        """
        seq = event.get("seq")
        if not isinstance(seq, int) or seq != self.seen.size + 1:
            raise LogTampered(
                f"{self.channel}: expected event {self.seen.size + 1}, got {seq}: "
                "an event is missing or out of order",
                channel=self.channel,
                seq=self.seen.size + 1,
            )
        leaf = event_hash(event)
        self.seen.append(leaf)
        self._pending.append(_Pending(seq, leaf, payload))
        if checkpoint is None and (
            self.checkpoint is None or self.checkpoint.size != self.seen.size
        ):
            return []
        if checkpoint is None:
            # The events reached the checkpoint already trusted: check against it as is
            # (it may be one a previous key signed, which the current keys cannot open).
            assert self.checkpoint is not None
            assert self.note is not None
            signed, checkpoint = self.checkpoint, self.note
        else:
            signed = self._open(checkpoint)
        if signed.size != seq:
            raise LogTampered(
                f"{self.channel}: event {seq} came with a checkpoint of {signed.size} events",
                channel=self.channel,
                seq=seq,
            )
        if self.seen.root() != signed.root_hash:
            roots = PrefixRoots(self._verified, [p.leaf for p in self._pending])
            first = await first_difference(roots, signed, self._fetch)
            raise LogTampered(
                f"{self.channel}: event {first} is not the event the server's log holds "
                f"(checkpoint of {signed.size} events)",
                channel=self.channel,
                seq=first,
            )
        old = self.checkpoint
        if old is not None and old.size == signed.size and old.root_hash != signed.root_hash:
            assert self.note is not None
            raise SplitView(
                f"{self.channel}: two checkpoints of {signed.size} events differ",
                channel=self.channel,
                earlier=self.note,
                later=checkpoint,
            )
        if old is not None and signed.size < old.size:
            # A batch that ends before the checkpoint already trusted (catching up, or
            # resuming): its own signed root must be a prefix of the trusted one, or a
            # server could replay a forked past under a checkpoint made for the purpose.
            assert self.note is not None
            await self._prove_prefix(
                signed,
                old,
                earlier=self.note,
                later=checkpoint,
                why=f"the checkpoint of {signed.size} events is not a prefix of the one of "
                f"{old.size} events verified before",
            )
        if old is None or signed.size >= old.size:
            self.checkpoint, self.note = signed, checkpoint
        self._verified = deepcopy(self.seen)
        released, self._pending = self._pending, []
        self._unhandled.extend(released)
        return [p.payload for p in released]

    async def _prove_prefix(
        self, shorter: Checkpoint, longer: Checkpoint, *, earlier: str, later: str, why: str
    ) -> None:
        """Check with the server's consistency proof that ``shorter``'s log begins
        ``longer``'s; if not, raise ``SplitView`` with the note verified earlier and the later.
        """
        proof = await self._fetch(shorter.size, longer.size)
        try:
            verify_consistency(
                shorter.size, longer.size, proof, shorter.root_hash, longer.root_hash
            )
        except ProofError as exc:
            raise SplitView(
                f"{self.channel}: {why}", channel=self.channel, earlier=earlier, later=later
            ) from exc

    def mark_handled(self, seq: int) -> None:
        """The consumer is done with every verified event up to ``seq``."""
        while self._unhandled and self._unhandled[0].seq <= seq:
            self.handled.append(self._unhandled.pop(0).leaf)


def decode_hashes(hashes: Sequence[str]) -> list[bytes]:
    """Proof hashes as the API serves them (base64) to bytes."""
    return [base64.b64decode(h, validate=True) for h in hashes]


async def start_auditors(
    reader: LogReader,
    positions: Mapping[str, int],
    saved: Mapping[str, Any],
    *,
    log_key: str | None,
) -> tuple[str, dict[str, ChannelAuditor]]:
    """The log key and an auditor per channel, for a subscription that starts.

    Args:
        reader: the server's REST reads.
        positions: by channel, the last event already handled: checking starts after it.
        saved: the resume file's ``audit`` section (empty for none).
        log_key: the key the caller pinned, if any.

    Returns:
        The key in use (pinned, else remembered, else the server's on first use) and the
        auditors. A saved state is used where it ends at the same position; elsewhere the
        range so far is asked of the server, a claim the next signed root will check.
    """
    saved_key = saved.get("log_key")
    key = log_key or (saved_key if isinstance(saved_key, str) else None)
    if key is None:
        key = await reader.log_key()
        log.warning("trusting the server's log key on first use: %s", key)
    previous: list[str] = []
    if isinstance(saved_key, str) and saved_key != key:
        # A key pinned by the caller after the server rotated its own: the checkpoint
        # remembered was signed with the old one, which opens it and nothing newer.
        log.warning("the log key changes from %s to the pinned %s", saved_key, key)
        previous.append(saved_key)
    states = saved.get("channels")
    auditors = {}
    for channel, start in positions.items():

        async def fetch(old: int, new: int, channel: str = channel) -> list[bytes]:
            return await reader.consistency_proof(channel, old, new)

        state = states.get(channel) if isinstance(states, dict) else None
        if isinstance(state, dict) and state.get("range", {}).get("size") == start:
            auditors[channel] = ChannelAuditor.from_state(
                channel, [key], fetch, state, previous_keys=previous
            )
        else:
            # Starting elsewhere than where the saved range ends: the range comes from the
            # server, but the checkpoint remembered still holds it to its word.
            note = state.get("checkpoint") if isinstance(state, dict) else None
            auditors[channel] = ChannelAuditor(
                channel,
                [key],
                fetch,
                handled=await reader.compact_range(channel, start),
                checkpoint=note if isinstance(note, str) else None,
                previous_keys=previous,
            )
    return key, auditors


def audit_state(log_key: str, auditors: Mapping[str, ChannelAuditor]) -> dict[str, Any]:
    """What a resume file keeps of the audit: the key, and each channel's state."""
    return {
        "log_key": log_key,
        "channels": {channel: a.state() for channel, a in sorted(auditors.items())},
    }
