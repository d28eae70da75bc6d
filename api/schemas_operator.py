"""Request and response bodies of the operator endpoints (运营: banks, accounts, keys). Unknown fields are 422."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api.schemas import Uscc

Role = Literal["operator", "bank", "enterprise", "regulator", "analyst"]


class BankCreate(BaseModel):
    """Connect a bank under a code it will be known by (upper-case letters, digits and underscores)."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=2, max_length=40, pattern=r"^[A-Z0-9_]+$", examples=["FJ_RURAL_BANK"])
    name: str = Field(min_length=1, max_length=200, examples=["福建示范农商银行"])


class BankOut(BaseModel):
    """A connected bank."""

    id: int
    code: str
    name: str


class AccountCreate(BaseModel):
    """Open an account: a bank account names its bank, an enterprise account its USCC, other roles neither."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"role": "bank", "display_name": "信贷部 API", "bank_code": "FJ_RURAL_BANK"}]},
    )

    role: Role
    display_name: str = Field(min_length=1, max_length=200)
    bank_code: str | None = Field(None, min_length=1, max_length=40)
    uscc: Uscc | None = None


class AccountChange(BaseModel):
    """Disable (true) or enable (false) an account; nothing else about it can be changed here."""

    model_config = ConfigDict(extra="forbid")

    disabled: bool


class AccountOut(BaseModel):
    """An account as operators see it (never a key or password hash)."""

    id: int
    role: Role
    display_name: str
    bank_code: str | None
    uscc: str | None
    created_at: datetime
    disabled_at: datetime | None
    status: Literal["active", "disabled"]


class KeyCreate(BaseModel):
    """Issue a key; with ``expires_at`` it stops working by itself at that moment (timezone required)."""

    model_config = ConfigDict(extra="forbid")

    expires_at: AwareDatetime | None = None


class KeyOut(BaseModel):
    """An API key's public facts: its id, owner, times and state; never its secret or hash."""

    key_id: str
    account_id: int
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    status: Literal["active", "expired", "revoked"]


class IssuedKeyOut(KeyOut):
    """A newly issued key with its plaintext ``key``, shown this once and stored only as a hash."""

    key: str = Field(description="`xk_<key_id>_<secret>`: shown once, never again; store it in the client's vault.")
