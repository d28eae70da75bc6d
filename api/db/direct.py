"""Core statements run straight on the DB-API cursor of a SQLAlchemy connection, for the score request's hot path.

SQLAlchemy's execution context (cache lookup, parameter construction, result metadata, events) costs about
0.03–0.05 ms a statement, five to eight times SQLite's own work on these short indexed statements; the seven
statements of ``POST /v1/scores`` paid it on every request (docs/api.md, load). A :class:`DirectStatement` is
compiled once per dialect and set of parameter names, by SQLAlchemy, and converts values with the column types'
own bind and result processors, so it reads and writes exactly what the same statement through
``Connection.execute`` would, in the connection's transaction. It skips SQLAlchemy's cursor events and statement
logging; DB-API errors are raised as SQLAlchemy's (``DBAPIError.instance``), as ``execute`` raises them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.selectable import Select

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Prepared:
    """A statement compiled for one dialect: its SQL, how to lay out the parameters and read the rows back."""

    sql: str
    positional: bool
    binds: tuple[tuple[str, Processor], ...]
    """Parameter names in SQL order (positional) or any order (named), each with its bind processor."""
    fixed: Mapping[str, Any]
    """Values the statement carries itself (a LIMIT, a literal in a WHERE), already processed."""
    results: tuple[Processor, ...]


class DirectStatement:
    """``statement`` (a Select, or an Insert/Update with or without RETURNING), run on the connection's cursor.

    Every parameter the statement needs must be given: column defaults computed in Python are not applied (a
    statement that would need one is refused when first prepared), nor are expanding (IN-list) parameters.
    """

    def __init__(self, statement: Select[*tuple[Any, ...]] | UpdateBase) -> None:
        self.statement = statement
        self._prepared: dict[tuple[str, frozenset[str]], _Prepared] = {}

    def _prepare(self, dialect: Dialect, keys: frozenset[str]) -> _Prepared:
        compiled = self.statement.compile(dialect=dialect, column_keys=sorted(keys))
        if getattr(compiled, "insert_prefetch", None) or getattr(compiled, "update_prefetch", None):
            raise ValueError(f"{self.statement}: a column default computed in Python would be left out; give "
                             f"every column's value")
        binds: list[tuple[str, Processor]] = []
        fixed: dict[str, Any] = {}
        if compiled.positional:
            names = compiled.positiontup or []
        else:  # the names the SQL uses (``binds`` also keys each anonymous parameter by its own id)
            used = set(compiled.bind_names.values())
            names = [name for name in compiled.binds if name in used]
        for name in names:
            parameter = compiled.binds[name]
            if parameter.expanding:
                raise ValueError(f"{self.statement}: expanding parameter {name!r} is not supported")
            processor = parameter.type.dialect_impl(dialect).bind_processor(dialect)
            if name in keys or parameter.required:
                binds.append((name, processor))
            else:
                value = parameter.effective_value
                fixed[name] = processor(value) if processor is not None else value
                binds.append((name, None))
        results = tuple(column.type.dialect_impl(dialect).result_processor(dialect, None)
                        for column in self.statement.exported_columns)  # RETURNING's, or none, for DML
        return _Prepared(compiled.string, bool(compiled.positional), tuple(binds), fixed, results)

    def _parameters(self, prepared: _Prepared, params: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        values: list[Any] = []
        for name, processor in prepared.binds:
            value = params[name] if name in params else prepared.fixed[name]
            values.append(value if processor is None else processor(value))
        if prepared.positional:
            return values
        return dict(zip((name for name, _ in prepared.binds), values, strict=True))

    def rows(self, connection: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Execute with ``params`` in the connection's transaction; the rows returned (none for plain DML)."""
        dialect = connection.dialect
        key = (dialect.name, frozenset(params))
        prepared = self._prepared.get(key)
        if prepared is None:
            prepared = self._prepared[key] = self._prepare(dialect, key[1])
        arguments = self._parameters(prepared, params)
        dbapi_error = dialect.loaded_dbapi.Error
        cursor = connection.connection.cursor()
        try:
            cursor.execute(prepared.sql, arguments)
            fetched = cursor.fetchall() if prepared.results else []
        except dbapi_error as error:
            raise DBAPIError.instance(prepared.sql, arguments, error, dbapi_error) from error
        finally:
            cursor.close()
        if not any(prepared.results):
            return [tuple(row) for row in fetched]
        return [tuple(value if processor is None else processor(value)
                      for processor, value in zip(prepared.results, row, strict=True)) for row in fetched]

    def first(self, connection: Connection, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The first row returned, or None."""
        found = self.rows(connection, params)
        return found[0] if found else None
