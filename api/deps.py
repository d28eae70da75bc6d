"""Reusable dependencies as ``Annotated`` aliases: a handler declares ``bank: CurrentBank`` and is done."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated, ParamSpec, TypeVar

from fastapi import Depends, Path, Query, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import and_, bindparam, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.audit import note_actor, note_uscc
from api.db.direct import DirectStatement
from api.db.models import PURPOSES, Account, Authorisation, Bank, Enterprise, utcnow
from api.db.session import SessionSlots, commits_without_waiting
from api.errors import Forbidden, NotAuthenticated, NotAuthorised, NotFound, ServiceUnavailable
from api.grants import grant_is_active
from api.ratelimit import charge
from api.schemas import ScoreRequest
from api.schemas_loans import LoanEventIn
from api.security import InvalidKeyError, KeyVerifier
from config.settings import Settings
from scoring.advice import AdviceSearch
from scoring.scopes import DATA_SCOPES
from scoring.service import ScoreService
from scoring.types import ScoreProvider

SCORE_SCOPE = "score"
MAX_ROW_ID = 2**31 - 1
"""Largest id an integer key column holds on every supported database (PostgreSQL ``integer``)."""
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="The row's id.")]
"""An integer id in a path: out of range is 422 naming it, never a database overflow."""

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer xk_<key_id>_<secret>`")
_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="`X-API-Key: xk_...`")


async def get_db(request: Request) -> AsyncIterator[Session]:
    """One session per request, closed afterwards; handlers commit what they change.

    Opening a session touches no database, so it happens on the event loop; closing one whose transaction is
    still open (a rollback, a round trip on PostgreSQL) goes to the thread pool, where the blocking work runs.
    Dependencies here that do no I/O are ``async`` for the same reason: each sync one costs a thread hand-off.
    Requests take a slot first (``SessionSlots``), so under overload they queue here instead of deadlocking the
    connection pool against the thread pool.
    """
    state = request.app.state
    slots: SessionSlots | None = getattr(state, "session_slots", None)
    if slots is None:
        slots = state.session_slots = SessionSlots.for_engine(state.engine)
    async with slots.semaphore():
        session: Session = state.sessionmaker()
        try:
            yield session
        finally:
            if session.in_transaction():
                await run_in_threadpool(session.close)
            else:
                session.close()


P = ParamSpec("P")
T = TypeVar("T")


async def run_db(request: Request, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run short blocking database ``work`` where it costs least: inline on the event loop where a transaction
    never waits (SQLite, WAL: a thread hand-off would cost more than the work), in the thread pool otherwise
    (PostgreSQL: round trips and commit flushes overlap across requests there)."""
    state = request.app.state
    inline: bool | None = getattr(state, "db_inline", None)
    if inline is None:
        inline = state.db_inline = commits_without_waiting(state.engine)
    if inline:
        return work(*args, **kwargs)
    return await run_in_threadpool(work, *args, **kwargs)


async def get_app_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


async def get_score_provider(request: Request) -> ScoreProvider:
    """The loaded scorer, or 503 when none is loaded."""
    provider: ScoreProvider | None = request.app.state.score_provider
    if provider is None:
        raise ServiceUnavailable("No scoring model is loaded.")
    return provider


DbSession = Annotated[Session, Depends(get_db)]
AppSettings = Annotated[Settings, Depends(get_app_settings)]
Scorer = Annotated[ScoreProvider, Depends(get_score_provider)]


async def current_account(
    request: Request,
    session: DbSession,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key_header)],
) -> Account:
    """The account behind the presented API key; 401 if there is none or it is not valid.

    A key verified within the cache period costs one indexed read (``run_db``); anything that needs argon2
    (deliberately slow) goes to the thread pool so it never stalls other requests.
    """
    presented = bearer.credentials if bearer is not None else api_key
    if not presented:
        raise NotAuthenticated("An API key is required: `Authorization: Bearer xk_...` or `X-API-Key`.")
    verifier: KeyVerifier = request.app.state.key_verifier
    address = request.client.host if request.client else None
    try:
        if verifier.remembers(presented):
            account = await run_db(request, verifier.verify, session, presented, address)
        else:
            account = await run_in_threadpool(verifier.verify, session, presented, address)
    except InvalidKeyError:
        raise NotAuthenticated("The API key is not valid.") from None
    note_actor(request, account.id, account.role)
    return account


CurrentAccount = Annotated[Account, Depends(current_account)]


def _require_role(account: Account, role: str) -> Account:
    if account.role != role:
        raise Forbidden(f"This endpoint is for {role} accounts.")
    return account


async def current_bank(request: Request, account: CurrentAccount) -> Account:
    """A bank account (with its bank); 403 for any other role. Each bank request takes a token from the
    account's rate-limit bucket (429 once it is empty)."""
    _require_role(account, "bank")
    if account.bank_id is None:
        raise Forbidden("This bank account is not linked to a bank.")
    charge(request, account.id)
    return account


async def current_enterprise(request: Request, account: CurrentAccount) -> Account:
    """An enterprise account (with its USCC); 403 for any other role."""
    _require_role(account, "enterprise")
    if account.uscc is None:
        raise Forbidden("This enterprise account is not linked to an enterprise.")
    note_uscc(request, account.uscc)
    return account


async def current_regulator(account: CurrentAccount) -> Account:
    """A regulator account; 403 for any other role."""
    return _require_role(account, "regulator")


CurrentBank = Annotated[Account, Depends(current_bank)]
CurrentEnterprise = Annotated[Account, Depends(current_enterprise)]
CurrentRegulator = Annotated[Account, Depends(current_regulator)]


def known_enterprise(session: Session, uscc: str) -> Enterprise:
    """The enterprise with this USCC; 404 if the platform does not know it."""
    enterprise = session.get(Enterprise, uscc)
    if enterprise is None:
        raise NotFound("No enterprise with this USCC is registered on the platform.")
    return enterprise


def active_score_grants(session: Session, uscc: str, bank_id: int, purpose: str) -> list[Authorisation]:
    """Every unrevoked, unexpired grant of ``uscc`` to ``bank_id`` for ``purpose`` that covers scoring."""
    grants = session.scalars(
        select(Authorisation).where(Authorisation.uscc == uscc, grant_is_active(bank_id, purpose, utcnow()))
    )
    return [g for g in grants if SCORE_SCOPE in (g.scopes or [])]


def active_authorisation(session: Session, uscc: str, bank_id: int, purpose: str) -> Authorisation | None:
    """One active grant of ``uscc`` to ``bank_id`` for ``purpose`` that covers scoring, if any."""
    return next(iter(active_score_grants(session, uscc, bank_id, purpose)), None)


@dataclass(frozen=True)
class ScoringGrant:
    """An enterprise (its USCC) that authorised the bank to score it, and the data scopes its active grants let
    feed the answer (``scoring.scopes``; the union when the enterprise gave the bank more than one grant)."""

    uscc: str
    data_scopes: tuple[str, ...]


_ENTERPRISE_AND_ACTIVE_GRANTS = DirectStatement(
    select(Enterprise.uscc, Authorisation.scopes)
    .outerjoin(Authorisation, and_(
        Authorisation.uscc == Enterprise.uscc,
        grant_is_active(bindparam("bank_id"), bindparam("purpose"), bindparam("now")),
    ))
    .where(Enterprise.uscc == bindparam("uscc"))
)
"""One row per active grant of the enterprise to the bank for the purpose; one row with null scopes when it has
none; no row when the enterprise is unknown. ``active_score_grants`` with the enterprise, in one statement."""


def scoring_grant(session: Session, uscc: str, bank_id: int, purpose: str = "pre_credit") -> ScoringGrant:
    """The enterprise and its granted data scopes, if it has authorised ``bank_id`` to score it for ``purpose``:
    404 for an unknown USCC, 403 without an active grant covering scoring. The one check single and batch scores
    share, read fresh on every request (one Core statement), so a revocation holds from the next request on."""
    rows = _ENTERPRISE_AND_ACTIVE_GRANTS.rows(
        session.connection(), {"uscc": uscc, "bank_id": bank_id, "purpose": purpose, "now": utcnow()}
    )
    if not rows:
        raise NotFound("No enterprise with this USCC is registered on the platform.")
    grants = [scopes for _, scopes in rows if scopes is not None and SCORE_SCOPE in scopes]
    if not grants:
        words = "pre-credit scoring" if purpose == "pre_credit" else "post-loan monitoring"
        raise NotAuthorised(
            f"The enterprise has not authorised this bank for {words}, or the grant has expired or been revoked."
        )
    granted = {scope for scopes in grants for scope in scopes}
    return ScoringGrant(rows[0][0], tuple(scope for scope in DATA_SCOPES if scope in granted))


def authorized_enterprise(
    request: Request, bank: CurrentBank, body: ScoreRequest, session: DbSession
) -> ScoringGrant:
    """The enterprise named in the body, if it has authorised the calling bank for pre-credit scoring."""
    note_uscc(request, body.uscc)
    assert bank.bank_id is not None  # guaranteed by current_bank
    return scoring_grant(session, body.uscc, bank.bank_id)


AuthorizedEnterprise = Annotated[ScoringGrant, Depends(authorized_enterprise)]


@dataclass(frozen=True)
class ScoreAsk:
    """An authorised score request: the enterprise it names, the data scopes granted, and the body as sent."""

    grant: ScoringGrant
    body: ScoreRequest
    bank_id: int
    """The calling bank's id (``CurrentBank``), so the handler needs not declare the bank again."""


async def authorized_score_request(
    request: Request, bank: CurrentBank, body: ScoreRequest, session: DbSession
) -> ScoreAsk:
    """``authorized_enterprise`` with the body kept, so a handler never declares (and validates) the body twice.

    Two indexed reads, run like the rest of ``POST /v1/scores`` (``run_db``; docs/operations.md)."""
    assert bank.bank_id is not None  # guaranteed by current_bank
    return ScoreAsk(await run_db(request, authorized_enterprise, request, bank, body, session), body, bank.bank_id)


AuthorizedScoreRequest = Annotated[ScoreAsk, Depends(authorized_score_request)]


def bank_of(session: Session, account: Account) -> Bank:
    """The bank a bank account belongs to."""
    bank = session.get(Bank, account.bank_id) if account.bank_id is not None else None
    if bank is None:
        raise Forbidden("This bank account is not linked to a bank.")
    return bank


async def current_operator(account: CurrentAccount) -> Account:
    """An operator account (运营): works objections and review requests; 403 for any other role."""
    return _require_role(account, "operator")


CurrentOperator = Annotated[Account, Depends(current_operator)]


def loan_report_grant(session: Session, uscc: str, bank_id: int) -> Authorisation:
    """The grant under which ``bank_id`` may report on ``uscc``: 404 for an unknown enterprise, 403 without an
    active grant of either purpose (the scoring check, ``active_authorisation``)."""
    enterprise = known_enterprise(session, uscc)
    grant = next(
        (g for p in PURPOSES if (g := active_authorisation(session, enterprise.uscc, bank_id, p)) is not None),
        None,
    )
    if grant is None:
        raise NotAuthorised("The enterprise has not authorised this bank, or the grant has expired or been revoked.")
    return grant


@dataclass(frozen=True)
class LoanReport:
    """An authorised loan report (回传): the event as the bank sent it and the grant it was reported under."""

    body: LoanEventIn
    authorisation: Authorisation


def authorized_loan_report(
    request: Request, bank: CurrentBank, body: LoanEventIn, session: DbSession
) -> LoanReport:
    """The reported event, if its enterprise holds an active grant to the calling bank (either purpose).

    The same check as scoring (``active_authorisation``): a bank reports only on enterprises that let it in;
    one that was never authorised, or whose grant expired or was revoked, gets 403 and nothing is stored.
    """
    note_uscc(request, body.uscc)
    assert bank.bank_id is not None  # guaranteed by current_bank
    return LoanReport(body, loan_report_grant(session, body.uscc, bank.bank_id))


AuthorizedLoanReport = Annotated[LoanReport, Depends(authorized_loan_report)]


@dataclass(frozen=True)
class Page:
    """Which slice of a list to return: ``offset`` rows skipped, at most ``limit`` returned."""

    offset: int
    limit: int


async def pagination(
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="Rows to skip.")] = 0,
    limit: Annotated[int, Query(ge=1, le=200, description="Rows to return, at most 200.")] = 50,
) -> Page:
    """Offset pagination, bounded so no request reads an unbounded list."""
    return Page(offset, limit)


Pagination = Annotated[Page, Depends(pagination)]


def get_advisor(request: Request) -> AdviceSearch | None:
    """Improvement advice (改进建议) for the loaded model, made once; None when the loaded scorer is not a
    ``ScoreService`` (advice re-scores candidate profiles with the real model, which a bare provider cannot)."""
    provider = request.app.state.score_provider
    if not isinstance(provider, ScoreService):
        return None
    cached: tuple[ScoreService, AdviceSearch] | None = getattr(request.app.state, "advice_search", None)
    if cached is None or cached[0] is not provider:
        cached = (provider, AdviceSearch(provider))
        request.app.state.advice_search = cached
    return cached[1]


Advisor = Annotated[AdviceSearch | None, Depends(get_advisor)]
