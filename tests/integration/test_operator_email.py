"""Operators' e-mail addresses: set through REST by the operator or its party's admin,
through ``hotline admin`` by the server's administrator; shown in who-am-I; on both databases.

The demo's operators: ana, ben (water) and carla, dev (roads), and an admin of each party,
wanda (water) and raj (roads).
"""

from __future__ import annotations

import asyncio

import pytest
from typer.testing import CliRunner

from server.cli import app
from server.service import admin
from server.store.db import Database
from server.store.directory import Directory
from tests.integration.conftest import Api

ANA = "ana.lopez@water.example"


async def put(api: Api, caller: str, operator: str, email: object) -> tuple[int, object]:
    response = await api.client.put(
        f"/api/v1/operators/{operator}/email", headers=api.auth(caller), json={"email": email}
    )
    return response.status_code, response.json()


async def email_of(db: Database, operator: str) -> str | None:
    async with db.session() as session:
        found = await Directory(session).operator(operator)
    assert found is not None
    return found.email


async def test_an_operator_sets_its_own_address_and_sees_it_in_who_am_i(api: Api) -> None:
    assert (await api.get("ana", "/api/v1/me")).json()["email"] is None

    status, body = await put(api, "ana", "ana", f"  {ANA} ")

    assert (status, body) == (200, {"operator": "ana", "email": ANA})
    assert (await api.get("ana", "/api/v1/me")).json()["email"] == ANA
    assert (await api.get("ben", "/api/v1/me")).json()["email"] is None


async def test_an_admin_sets_the_address_of_an_operator_of_its_party(
    api: Api, db: Database
) -> None:
    status, body = await put(api, "wanda", "ben", "ben@water.example")

    assert (status, body) == (200, {"operator": "ben", "email": "ben@water.example"})
    assert await email_of(db, "ben") == "ben@water.example"


async def test_another_operator_of_the_party_may_not_set_it(api: Api, db: Database) -> None:
    await admin.set_email(db, "ana", ANA)

    status, body = await put(api, "ben", "ana", "ben@water.example")

    assert status == 403
    assert isinstance(body, dict)
    assert body["code"] == "forbidden"
    assert await email_of(db, "ana") == ANA


@pytest.mark.parametrize("caller", ["carla", "raj"])
async def test_an_operator_of_another_party_is_not_found_even_by_its_admin(
    api: Api, db: Database, caller: str
) -> None:
    status, body = await put(api, caller, "ana", "someone@roads.example")
    deleted = await api.client.delete("/api/v1/operators/ana/email", headers=api.auth(caller))

    assert status == 404
    assert isinstance(body, dict)
    assert body["code"] == "not-found"
    assert deleted.status_code == 404
    assert await email_of(db, "ana") is None


async def test_an_unknown_operator_is_not_found(api: Api) -> None:
    status, _ = await put(api, "wanda", "nobody", "nobody@water.example")

    assert status == 404


@pytest.mark.parametrize(
    "address",
    [
        "ana",
        "ana@",
        "@water.example",
        "ana lopez@water.example",
        "Ana <ana@water.example>",
        "ana@water.example, spy@example.com",
        "ana@water.example\r\nBcc: spy@example.com",
        "ana@-water.example",
        "ana@water..example",
        "anä@water.example",
        "a" * 65 + "@water.example",
        "",
    ],
)
async def test_a_malformed_address_is_a_422_problem_and_changes_nothing(
    api: Api, db: Database, address: str
) -> None:
    await admin.set_email(db, "ana", ANA)

    status, body = await put(api, "ana", "ana", address)

    assert status == 422
    assert isinstance(body, dict)
    assert body["code"] == "invalid"
    assert body["errors"] == [{"field": "email", "message": body["detail"]}]
    assert await email_of(db, "ana") == ANA


async def test_a_body_that_is_not_an_address_object_is_refused(api: Api, db: Database) -> None:
    for body in ({"email": 42}, {"address": ANA}, {"email": ANA, "name": "Ana"}, {}):
        response = await api.client.put(
            "/api/v1/operators/ana/email", headers=api.auth("ana"), json=body
        )
        assert response.status_code == 422, body
        assert response.json()["code"] == "invalid-request"
    long = "a" * 64 + "@" + ".".join(["b" * 60] * 4) + ".example"
    status, _ = await put(api, "ana", "ana", long)
    assert status == 422
    assert await email_of(db, "ana") is None


async def test_clearing_an_address_stops_the_mail(api: Api, db: Database) -> None:
    await admin.set_email(db, "ben", "ben@water.example")

    by_admin = await api.client.delete("/api/v1/operators/ben/email", headers=api.auth("wanda"))
    again = await api.client.delete("/api/v1/operators/ben/email", headers=api.auth("ben"))

    assert (by_admin.status_code, by_admin.content) == (204, b"")
    assert again.status_code == 204
    assert await email_of(db, "ben") is None
    assert (await api.get("ben", "/api/v1/me")).json()["email"] is None


async def test_setting_an_address_needs_a_token(api: Api) -> None:
    response = await api.client.put("/api/v1/operators/ana/email", json={"email": ANA})

    assert response.status_code == 401


# -- hotline admin (the server's administrator: any operator, no token) -------------------


def admin_cli(database_url: str, *args: str) -> tuple[int, str]:
    done = CliRunner().invoke(app, ["admin", *args, "--database-url", database_url])
    return done.exit_code, done.output


def stored_email(database_url: str, operator: str) -> str | None:
    async def read() -> str | None:
        db = Database(database_url)
        try:
            return await email_of(db, operator)
        finally:
            await db.dispose()

    return asyncio.run(read())


@pytest.fixture
def water(database_url: str) -> str:
    """A database with the party ``water``, through the command line; its URL."""
    assert admin_cli(database_url, "party", "create", "water", "--name", "Riverside Water")[0] == 0
    return database_url


def test_an_operator_is_created_with_an_address(water: str) -> None:
    code, output = admin_cli(
        water, "operator", "create", "ana", "--party", "water", "--name", "Ana", "--email", ANA
    )

    assert code == 0, output
    assert f"mail to {ANA}" in output
    assert stored_email(water, "ana") == ANA


def test_an_operator_with_a_malformed_address_is_not_created(water: str) -> None:
    code, output = admin_cli(
        water, "operator", "create", "ana", "--party", "water", "--name", "Ana", "--email", "ana@"
    )

    assert code == 1
    assert "not an e-mail address" in output
    code, _ = admin_cli(water, "operator", "email", "ana", ANA)
    assert code == 1  # no such operator: it was not created


def test_the_admin_sets_and_clears_any_operators_address(water: str) -> None:
    admin_cli(water, "operator", "create", "ana", "--party", "water", "--name", "Ana")

    set_code, set_output = admin_cli(water, "operator", "email", "ana", ANA)
    bad_code, bad_output = admin_cli(water, "operator", "email", "ana", "ana at water")
    kept = stored_email(water, "ana")
    clear_code, clear_output = admin_cli(water, "operator", "email", "ana", "--clear")

    assert (set_code, bad_code, clear_code) == (0, 1, 0)
    assert f"mail for operator ana goes to {ANA}" in set_output
    assert "not an e-mail address" in bad_output
    assert kept == ANA
    assert "no e-mail address now" in clear_output
    assert stored_email(water, "ana") is None


def test_the_email_command_wants_an_address_or_clear_but_not_both(water: str) -> None:
    admin_cli(water, "operator", "create", "ana", "--party", "water", "--name", "Ana")

    neither, _ = admin_cli(water, "operator", "email", "ana")
    both, _ = admin_cli(water, "operator", "email", "ana", ANA, "--clear")
    unknown, output = admin_cli(water, "operator", "email", "nobody", ANA)

    assert (neither, both, unknown) == (2, 2, 1)
    assert "no operator nobody" in output
