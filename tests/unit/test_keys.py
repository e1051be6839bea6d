"""The server's signing key file: made once, owner-only, rotated with an overlap."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from client.protocol import note
from server.keys import KeyFileError, LogKeys, previous_path, rotate


def test_a_key_is_made_on_first_start_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "log.key"

    made = LogKeys.load_or_create(path, name="hotline.example")
    again = LogKeys.load_or_create(path, name="hotline.example")

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert made.verifier_key == again.verifier_key
    assert made.verifier_key.startswith("hotline.example+")
    assert "PRIVATE" not in made.verifier_key


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "log.key"
    LogKeys.load_or_create(path, name="hotline.example")
    path.chmod(0o644)

    with pytest.raises(KeyFileError, match="can be read by others"):
        LogKeys.load_or_create(path, name="hotline.example")


def test_a_key_with_another_name_than_the_log_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "log.key"
    LogKeys.load_or_create(path, name="hotline.example")

    with pytest.raises(KeyFileError, match="HOTLINE_LOG_NAME"):
        LogKeys.load_or_create(path, name="other.example")


def test_after_a_rotation_both_keys_sign_until_the_old_file_is_deleted(tmp_path: Path) -> None:
    path = tmp_path / "log.key"
    old = LogKeys.load_or_create(path, name="hotline.example")

    rotated = rotate(path, name="hotline.example")
    signed = note.sign_note("hotline.example/water-roads\n0\nAAAA\n", rotated.signers)

    assert rotated.previous is not None
    assert str(rotated.previous.verifier()) == old.verifier_key
    assert note.open_note(signed, old.verifier_key)
    assert note.open_note(signed, rotated.verifier_key)
    previous_path(path).unlink()
    assert LogKeys.load_or_create(path, name="hotline.example").signers == [rotated.signer]


def test_a_second_rotation_waits_for_the_first_to_finish(tmp_path: Path) -> None:
    path = tmp_path / "log.key"
    LogKeys.load_or_create(path, name="hotline.example")
    rotate(path, name="hotline.example")

    with pytest.raises(KeyFileError, match="finish the last rotation"):
        rotate(path, name="hotline.example")
