"""The public API is what ``__all__`` says: no more, no less (as httpx checks its own)."""

from __future__ import annotations

import inspect
import sys
from types import ModuleType

import pytest

import client
import client.attachment_files
import client.attachments
import client.attachments_cli
import client.backoff
import client.calls
import client.checks
import client.checks_cli
import client.drafts
import client.duties
import client.errors
import client.event_lines
import client.keyfile
import client.keys_cli
import client.live
import client.mail
import client.mail_cli
import client.policy
import client.policy_cli
import client.resume
import client.sdk
import client.spans
import client.terminal
import client.webhooks
import client.webhooks_cli

MODULES = [
    client,
    client.attachments,
    client.attachment_files,
    client.attachments_cli,
    client.backoff,
    client.calls,
    client.checks,
    client.policy,
    client.duties,
    client.event_lines,
    client.spans,
    client.policy_cli,
    client.checks_cli,
    client.drafts,
    client.errors,
    client.keyfile,
    client.keys_cli,
    client.live,
    client.resume,
    client.sdk,
    client.terminal,
    client.webhooks,
    client.webhooks_cli,
    client.mail,
    client.mail_cli,
]


def defined_here(module: ModuleType) -> set[str]:
    """Public classes and functions that ``module`` itself defines."""
    return {
        name
        for name, member in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(member) or inspect.isfunction(member))
        and member.__module__ == module.__name__
    }


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_all_is_sorted_and_names_only_what_exists(module: ModuleType) -> None:
    assert module.__all__ == sorted(module.__all__)
    assert [name for name in module.__all__ if not hasattr(module, name)] == []


@pytest.mark.parametrize("module", MODULES[1:], ids=lambda m: m.__name__)
def test_every_public_class_and_function_is_in_all(module: ModuleType) -> None:
    assert defined_here(module) <= set(module.__all__)


def test_the_package_exports_the_client_and_every_error() -> None:
    expected = {"Backoff", "HotlineClient", "Subscription", *client.errors.__all__}
    public = {
        name
        for name, member in vars(client).items()
        if not name.startswith("_") and not inspect.ismodule(member)
    }

    assert set(client.__all__) == expected == public


@pytest.mark.parametrize("name", client.__all__)
def test_each_package_export_is_the_one_its_defining_module_exports(name: str) -> None:
    member = getattr(client, name)
    home = sys.modules[member.__module__]

    assert name in home.__all__
    assert getattr(home, name) is member


def test_every_error_derives_from_the_one_root() -> None:
    errors = [getattr(client.errors, name) for name in client.errors.__all__]

    assert all(issubclass(error, client.errors.HotlineError) for error in errors)
