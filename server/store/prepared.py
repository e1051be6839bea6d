"""Core statements compiled once for a database and run on its driver's own cursor.

The single writer runs the same few statements thousands of times a second. Through
SQLAlchemy's ``Connection.execute`` each run costs 40 to 150 µs on top of the driver's
own few microseconds (looking the compiled form up in its cache, building an execution
context, processing each parameter): as much as SQLite takes to write the rows. So the
writer's statements are built with SQLAlchemy Core as usual, compiled once per database,
and handed to the driver's cursor with their parameters and results converted by the
very functions SQLAlchemy would use (each column type's ``bind_processor`` and
``result_processor`` for that dialect). What reaches the database is what SQLAlchemy
would send, and what comes back is what it would return; only the bookkeeping around it
is skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import KeyedColumnElement
from sqlalchemy.sql.expression import ClauseElement

__all__ = ["Prepared"]

_Convert = Callable[[Any], Any] | None


class Prepared:
    """One statement, compiled for one dialect.

    Args:
        statement: a Core statement with named bound parameters.
        dialect: the database's dialect.
        keys: for an ``insert(table)`` without values, the columns to insert.
        columns: for a query, the columns it returns, in order (to convert each value).
    """

    def __init__(
        self,
        statement: ClauseElement,
        dialect: Dialect,
        *,
        keys: Sequence[str] | None = None,
        columns: Sequence[KeyedColumnElement[Any]] = (),
    ) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(keys) if keys else None)
        assert isinstance(compiled, SQLCompiler), "only SQL statements can be prepared"
        self.sql = compiled.string
        self._positional = compiled.positional
        names = list(compiled.positiontup or []) if compiled.positional else list(compiled.binds)
        self._binds: list[tuple[str, _Convert]] = [
            (name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in names
        ]
        # Values written into the statement itself (``type == 'operator.key_registered'``).
        self._fixed = {
            name: compiled.binds[name].effective_value
            for name in names
            if compiled.binds[name].value is not None
        }
        self.names = tuple(column.key for column in columns)
        """The names of the columns a query returns."""
        self._results: list[_Convert] = [
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        ]

    def parameters(self, values: Mapping[str, Any]) -> Any:
        """``values`` converted and arranged as the driver takes them."""
        if self._fixed:
            values = {**self._fixed, **values}
        if self._positional:
            return tuple(
                values[name] if convert is None else convert(values[name])
                for name, convert in self._binds
            )
        return {
            name: values[name] if convert is None else convert(values[name])
            for name, convert in self._binds
        }

    def many(self, rows: Sequence[Mapping[str, Any]]) -> list[Any]:
        """Each row's parameters, for ``executemany``."""
        return [self.parameters(row) for row in rows]

    def row(self, values: Sequence[Any]) -> dict[str, Any]:
        """A returned row, converted, by column name."""
        return {
            name: value if convert is None else convert(value)
            for name, value, convert in zip(self.names, values, self._results, strict=True)
        }
