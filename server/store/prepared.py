"""Core statements compiled once for a database and run on its driver's own cursor.

The single writer runs the same few statements thousands of times a second. Through
SQLAlchemy's ``Connection.execute`` each run costs 40 to 150 µs on top of the driver's
own few microseconds (looking the compiled form up in its cache, building an execution
context, processing each parameter): as much as SQLite takes to write the rows. So the
writer's hot statements are built with SQLAlchemy Core as usual, compiled once per
database when the writer starts, and then handed to the driver's cursor with their
parameters converted by the very functions SQLAlchemy would use (each column type's
``bind_processor`` for that dialect). What reaches the database is what SQLAlchemy
would send; only the bookkeeping around it is skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

__all__ = ["Prepared"]


class Prepared:
    """One statement, compiled for one dialect.

    Args:
        statement: a Core statement with named bound parameters.
        dialect: the database's dialect (``engine.dialect``).
        keys: for an ``insert(table)`` without values, the columns to insert.
    """

    def __init__(
        self, statement: ClauseElement, dialect: Dialect, *, keys: Sequence[str] | None = None
    ) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(keys) if keys else None)
        assert isinstance(compiled, SQLCompiler), "only SQL statements can be prepared"
        self.sql = compiled.string
        self._positional = compiled.positional
        names = list(compiled.positiontup or []) if compiled.positional else list(compiled.binds)
        self._convert: list[tuple[str, Callable[[Any], Any] | None]] = [
            (name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in names
        ]

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        """``values`` converted and arranged as the driver takes them."""
        converted = [
            (name, values[name] if convert is None else convert(values[name]))
            for name, convert in self._convert
        ]
        if self._positional:
            return tuple(value for _, value in converted)
        return dict(converted)

    def run(self, connection: Connection, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run once; the rows it returns, as plain tuples (no type processing)."""
        cursor = connection.connection.cursor()
        try:
            cursor.execute(self.sql, self.parameters(values))
            return list(cursor.fetchall()) if cursor.description is not None else []
        finally:
            cursor.close()

    def run_many(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run once per row, in one call to the driver."""
        cursor = connection.connection.cursor()
        try:
            cursor.executemany(self.sql, [self.parameters(row) for row in rows])  # type: ignore[arg-type]
        finally:
            cursor.close()
