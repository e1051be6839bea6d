"""An operator's signing key file: made once, 0600, never overwritten, never shown."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from client.keyfile import KeyFileError, create_key_file, read_key_file
from client.protocol.note import Signer, Verifier


def test_a_new_key_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "ana.key"

    create_key_file(path, "ana")

    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_key_file_holds_the_signer_of_the_verifier_key_returned(tmp_path: Path) -> None:
    path = tmp_path / "ana.key"

    public = create_key_file(path, "ana")

    signer = Signer.parse(read_key_file(path))
    assert signer.name == "ana"
    assert str(signer.verifier()) == public
    assert Verifier.parse(public).name == "ana"


def test_an_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "ana.key"
    path.write_text("something precious\n")

    with pytest.raises(KeyFileError, match="exists already"):
        create_key_file(path, "ana")
    assert path.read_text() == "something precious\n"


@pytest.mark.parametrize("operator", ["Ana", "ana+1", "", "ana lopez"])
def test_a_key_is_made_only_for_an_operator_id(tmp_path: Path, operator: str) -> None:
    with pytest.raises(KeyFileError, match="not an operator id"):
        create_key_file(tmp_path / "x.key", operator)
    assert not (tmp_path / "x.key").exists()


def test_a_file_without_a_signing_key_is_refused_without_quoting_it(tmp_path: Path) -> None:
    path = tmp_path / "ana.key"
    public = create_key_file(tmp_path / "real.key", "ana")
    path.write_text(public + "\n")  # the public half by mistake: not a signer

    with pytest.raises(KeyFileError, match="does not hold a signing key") as refused:
        read_key_file(path)
    assert public.split("+", 2)[2] not in str(refused.value)  # name+keyid+base64


def test_a_missing_key_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="cannot read the signing key file"):
        read_key_file(tmp_path / "nowhere.key")
