"""运营: operators connect banks, open accounts, issue, rotate and revoke API keys, and disable accounts.

Every route declares ``CurrentOperator`` (directly or through a dependency that does), so any other role gets
403 before anything is looked up. Keys are shown once, in the response that issues them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from sqlalchemy import select

from api import accounts
from api.audit import note_detail, note_uscc
from api.db.models import Account, ApiKey, Bank, utcnow
from api.deps import AppSettings, CurrentOperator, DbSession, RowId
from api.pagination import PAGE_HEADERS, CursorPagination, announce_next, keyset, page_rows
from api.routers.problems import problem_responses
from api.schemas_operator import (
    AccountChange,
    AccountCreate,
    AccountOut,
    BankCreate,
    BankOut,
    IssuedKeyOut,
    KeyCreate,
    KeyOut,
    Role,
)
from api.security import KeyVerifier

router = APIRouter(prefix="/v1/operator", tags=["operator"])


def key_verifier(request: Request) -> KeyVerifier:
    """The app's key verifier, whose cache revocation and disabling clear."""
    verifier: KeyVerifier = request.app.state.key_verifier
    return verifier


Verifier = Annotated[KeyVerifier, Depends(key_verifier)]


def account_out(session: DbSession, account: Account) -> AccountOut:
    """An account with its bank's code."""
    bank = session.get(Bank, account.bank_id) if account.bank_id is not None else None
    return AccountOut(
        id=account.id, role=account.role, display_name=account.display_name,
        bank_code=bank.code if bank else None, uscc=account.uscc, created_at=account.created_at,
        disabled_at=account.disabled_at, status="disabled" if account.disabled_at is not None else "active",
    )


def key_out(key: ApiKey) -> KeyOut:
    """A key's public facts and its state now."""
    state: Literal["active", "expired", "revoked"] = (
        "revoked" if key.revoked_at is not None
        else "expired" if key.expires_at is not None and key.expires_at <= utcnow() else "active"
    )
    return KeyOut(key_id=key.key_id, account_id=key.account_id, created_at=key.created_at, expires_at=key.expires_at,
                  revoked_at=key.revoked_at, last_used_at=key.last_used_at, status=state)


def target_account(account_id: RowId, request: Request, operator: CurrentOperator, session: DbSession) -> Account:
    """The account a route names, for an operator; 404 if there is none."""
    account = accounts.account_by_id(session, account_id)
    note_detail(request, f"account {account.id}")
    if account.uscc is not None:
        note_uscc(request, account.uscc)
    return account


KeyId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9]+$", description="The key's public id.")]


def target_key(key_id: KeyId, request: Request, operator: CurrentOperator, session: DbSession) -> ApiKey:
    """The key a route names, for an operator; 404 if there is none."""
    key = accounts.key_by_id(session, key_id)
    note_detail(request, f"key {key.key_id} of account {key.account_id}")
    return key


TargetAccount = Annotated[Account, Depends(target_account)]
TargetKey = Annotated[ApiKey, Depends(target_key)]


@router.post("/banks", name="operator.bank_create", status_code=status.HTTP_201_CREATED,
             summary="Connect a bank", responses=problem_responses(401, 403, 409, 422))
def create_bank(body: BankCreate, operator: CurrentOperator, session: DbSession, request: Request) -> BankOut:
    """Connect a bank under a new code; bank accounts then name it."""
    bank = accounts.create_bank(session, code=body.code, name=body.name)
    note_detail(request, f"bank {bank.code}")
    return BankOut(id=bank.id, code=bank.code, name=bank.name)


@router.get("/banks", name="operator.bank_list", summary="Connected banks",
            responses={200: {"headers": PAGE_HEADERS}, **problem_responses(401, 403, 422)})
def list_banks(
    operator: CurrentOperator, session: DbSession, page: CursorPagination, request: Request, response: Response
) -> list[BankOut]:
    """Every connected bank, in the order they were connected, one page at a time."""
    found = session.scalars(keyset(select(Bank), page, [Bank.id], descending=False)).all()
    banks, next_cursor = page_rows(found, page, lambda bank: [bank.id])
    announce_next(request, response, next_cursor)
    return [BankOut(id=b.id, code=b.code, name=b.name) for b in banks]


@router.post("/accounts", name="operator.account_create", status_code=status.HTTP_201_CREATED,
             summary="Open an account", responses=problem_responses(401, 403, 422))
def create_account(body: AccountCreate, operator: CurrentOperator, session: DbSession, request: Request) -> AccountOut:
    """Open an account of any role; issue its first key with `POST /v1/operator/accounts/{id}/keys`."""
    if body.uscc is not None:
        note_uscc(request, body.uscc)
    account = accounts.create_account(session, role=body.role, display_name=body.display_name,
                                      bank_code=body.bank_code, uscc=body.uscc)
    note_detail(request, f"account {account.id} ({account.role}) opened")
    return account_out(session, account)


@router.get("/accounts", name="operator.account_list", summary="Accounts",
            responses={200: {"headers": PAGE_HEADERS}, **problem_responses(401, 403, 422)})
def list_accounts(
    operator: CurrentOperator, session: DbSession, page: CursorPagination, request: Request, response: Response,
    role: Annotated[Role | None, Query(description="Only accounts of this role.")] = None,
) -> list[AccountOut]:
    """Accounts, oldest first, optionally of one role, one page at a time."""
    query = select(Account) if role is None else select(Account).where(Account.role == role)
    found = session.scalars(keyset(query, page, [Account.id], descending=False)).all()
    rows, next_cursor = page_rows(found, page, lambda account: [account.id])
    announce_next(request, response, next_cursor)
    return [account_out(session, a) for a in rows]


@router.get("/accounts/{account_id}", name="operator.account_get", summary="One account",
            responses=problem_responses(401, 403, 404, 422))
def get_account(account: TargetAccount, session: DbSession) -> AccountOut:
    """The account and whether it is active."""
    return account_out(session, account)


@router.patch("/accounts/{account_id}", name="operator.account_change", summary="Disable or enable an account",
              responses=problem_responses(401, 403, 404, 409, 422))
def change_account(
    body: AccountChange, account: TargetAccount, operator: CurrentOperator, session: DbSession, verifier: Verifier,
    request: Request,
) -> AccountOut:
    """`{"disabled": true}` refuses every key of the account from the next request on; `false` lets them work
    again (revoked and expired keys stay refused). Other fields are refused (422)."""
    changed = accounts.set_disabled(session, verifier, account, disabled=body.disabled, by=operator)
    note_detail(request, f"account {account.id} {'disabled' if body.disabled else 'enabled'}")
    return account_out(session, changed)


@router.post("/accounts/{account_id}/keys", name="operator.key_issue", status_code=status.HTTP_201_CREATED,
             summary="Issue an API key (shown once)", responses=problem_responses(401, 403, 404, 409, 422))
def issue_key(
    account: TargetAccount, session: DbSession, settings: AppSettings, request: Request, body: KeyCreate | None = None,
) -> IssuedKeyOut:
    """A new key for the account; its other keys keep working, so a client rotates without downtime: issue,
    deploy the new key, then revoke the old one (or give the new key an `expires_at`)."""
    key, plaintext = accounts.issue_account_key(session, settings, account, body.expires_at if body else None)
    note_detail(request, f"key {key.key_id} issued to account {account.id}")
    return IssuedKeyOut(**key_out(key).model_dump(), key=plaintext)


@router.get("/accounts/{account_id}/keys", name="operator.key_list", summary="An account's keys",
            responses=problem_responses(401, 403, 404, 422))
def list_keys(account: TargetAccount, session: DbSession) -> list[KeyOut]:
    """Every key of the account, newest first, with its state; never a secret."""
    return [key_out(k) for k in accounts.account_keys(session, account)]


@router.delete("/keys/{key_id}", name="operator.key_revoke", summary="Revoke an API key at once",
               responses=problem_responses(401, 403, 404, 422))
def revoke_key(key: TargetKey, session: DbSession, verifier: Verifier) -> KeyOut:
    """Revoke the key (idempotent); its next presentation is refused."""
    return key_out(accounts.revoke_key(session, verifier, key))
