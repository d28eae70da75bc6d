"""分页: every list answers one page at a time — ``limit`` (bounded) and an opaque ``cursor`` — in a stable order.

The cursor is the sort key of the last row of the previous page (keyset pagination), so rows added while a
client walks the pages neither repeat nor push others out of sight. It is bound to the list it came from; a
cursor that does not decode, or belongs to another list, is a 422 naming ``cursor``. Lists that answer a bare
array carry the next cursor in the ``X-Next-Cursor`` header and a ``Link: <…>; rel="next"`` header (RFC 8288);
envelopes carry it as ``next_cursor`` too.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Request, Response
from sqlalchemy import Select, TypeDecorator, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from api.errors import FieldError, ValidationProblem

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
NEXT_CURSOR_HEADER = "X-Next-Cursor"
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"

Row = TypeVar("Row")
Query_ = TypeVar("Query_", bound=Select)  # any Select, its row types kept
Column = InstrumentedAttribute[Any]


def _invalid(message: str) -> ValidationProblem:
    return ValidationProblem("The cursor is not one this list gave out.", [FieldError("cursor", "cursor.invalid",
                                                                                       message)])


@dataclass(frozen=True)
class CursorPage:
    """Which page of which list: at most ``limit`` rows after the key the cursor carries (None: the first)."""

    limit: int
    list_name: str
    after: tuple[Any, ...] | None = None

    def encode(self, key: Sequence[Any]) -> str:
        """The opaque cursor for the page after a row with this sort key."""
        values = [v.isoformat() if isinstance(v, datetime) else str(v) if isinstance(v, uuid.UUID) else v
                  for v in key]
        raw = json.dumps({"l": self.list_name, "k": values}, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def after_key(self, columns: Sequence[Column]) -> tuple[Any, ...] | None:
        """The cursor's key as the columns' Python types; 422 when it does not fit them."""
        if self.after is None:
            return None
        if len(self.after) != len(columns):
            raise _invalid("the cursor does not fit this list")
        out: list[Any] = []
        for column, value in zip(columns, self.after, strict=True):
            sql_type = column.type
            kind = (sql_type.impl_instance if isinstance(sql_type, TypeDecorator) else sql_type).python_type
            try:
                if kind is datetime and isinstance(value, str):
                    out.append(datetime.fromisoformat(value))
                elif kind is uuid.UUID and isinstance(value, str):
                    out.append(uuid.UUID(value))
                elif kind is int and isinstance(value, int) and not isinstance(value, bool) and (
                        -(2**31) <= value < 2**31):  # what an integer column holds on every database
                    out.append(value)
                else:
                    raise _invalid("the cursor does not fit this list")
            except ValueError:
                raise _invalid("the cursor does not fit this list") from None
        return tuple(out)


def cursor_page(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Rows per page, at most {MAX_LIMIT}.")] = (
        DEFAULT_LIMIT),
    cursor: Annotated[str | None, Query(min_length=1, max_length=400, pattern=CURSOR_PATTERN,
                                        description="The next page's cursor, as the previous page gave it.")] = None,
) -> CursorPage:
    """The page asked for; the cursor is decoded here and checked against the list it is used on."""
    route = request.scope.get("route")
    list_name = str(getattr(route, "name", "") or request.url.path)
    if cursor is None:
        return CursorPage(limit, list_name)
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        raise _invalid("the cursor does not decode") from None
    if not isinstance(data, dict) or data.get("l") != list_name or not isinstance(data.get("k"), list):
        raise _invalid("the cursor belongs to another list")
    return CursorPage(limit, list_name, tuple(data["k"]))


CursorPagination = Annotated[CursorPage, Depends(cursor_page)]


def keyset(query: Query_, page: CursorPage, columns: Sequence[Column], *, descending: bool) -> Query_:
    """``query`` ordered by ``columns`` (the last one unique), after the cursor's key, one row more than a page
    (to know whether another page follows)."""
    after = page.after_key(columns)
    if after is not None:
        beyond = [
            and_(*(c == v for c, v in zip(columns[:i], after[:i], strict=True)),
                 columns[i] < after[i] if descending else columns[i] > after[i])
            for i in range(len(columns))
        ]
        query = query.where(or_(*beyond))
    order = [c.desc() if descending else c.asc() for c in columns]
    return query.order_by(*order).limit(page.limit + 1)


def page_rows(rows: Sequence[Row], page: CursorPage, key_of: Callable[[Row], Sequence[Any]]) -> tuple[
        list[Row], str | None]:
    """The page's rows and the cursor of the next page (None on the last)."""
    if len(rows) <= page.limit:
        return list(rows), None
    shown = list(rows[: page.limit])
    return shown, page.encode(key_of(shown[-1]))


def announce_next(request: Request, response: Response, next_cursor: str | None) -> None:
    """``X-Next-Cursor`` and ``Link: <…>; rel="next"`` for the page after this one (nothing on the last)."""
    if next_cursor is None:
        return
    response.headers[NEXT_CURSOR_HEADER] = next_cursor
    response.headers["Link"] = f'<{request.url.include_query_params(cursor=next_cursor)}>; rel="next"'


PAGE_HEADERS: dict[str, dict[str, Any]] = {
    NEXT_CURSOR_HEADER: {"description": "Cursor of the next page; absent on the last page.",
                         "schema": {"type": "string"}},
    "Link": {"description": 'RFC 8288 link to the next page (`rel="next"`); absent on the last page.',
             "schema": {"type": "string"}},
}
"""The headers a paged list answers with, for ``responses={200: {"headers": PAGE_HEADERS}}``."""
