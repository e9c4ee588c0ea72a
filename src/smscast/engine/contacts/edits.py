"""Contacts one at a time and in small batches, as the API changes them.

The CSV import (`contacts_import.py`) is the path for files; this module is the
path for programs: create, change, list and upsert a batch of up to a thousand
contacts in one transaction, with the same rules (one contact per phone, an
erased number stays refused until new consent).
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, String, cast, insert, select, update

from smscast.config import Settings
from smscast.core.channels import normalise_email
from smscast.core.erasure import phone_hash
from smscast.core.errors import Problem, UserError
from smscast.core.phones import PhoneError, parse_phone, timezone_for_phone
from smscast.engine.accounts.audit import record_audit
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.store import consent as consent_store
from smscast.store import contacts as contact_store
from smscast.store.models import Contact, table_of

contacts = table_of(Contact)
MAX_BATCH = 1000
_LANGUAGE = re.compile(r"([a-zA-Z]{2,3})(?:[-_]([a-zA-Z]{2}|\d{3}))?")
EDITABLE = ("attributes", "language", "timezone", "email", "whatsapp", "tags")
SHOWN = (
    "id",
    "phone",
    "country",
    "attributes",
    "language",
    "timezone",
    "email",
    "whatsapp",
    "tags",
    "created_at",
    "updated_at",
)


@dataclass(frozen=True, slots=True)
class ContactFields:
    """What a caller says about a contact; None leaves a stored value as it is."""

    phone: str = ""
    attributes: Mapping[str, Any] | None = None
    language: str | None = None
    timezone: str | None = None
    email: str | None = None
    tags: Sequence[str] | None = None
    whatsapp: str | None = None  # "" removes it (WhatsApp then reaches the phone)


@dataclass(slots=True)
class UpsertResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    items: list[dict[str, Any]] = field(default_factory=list)


def _checked(workspace: WorkspaceRef, fields: ContactFields) -> dict[str, Any]:
    """The editable values in stored form; UserError names the first bad field.

    An email is kept as `core.channels.normalise_email` writes it and a WhatsApp number
    in E.164 (read in the workspace's country without +), as an import stores them."""
    values: dict[str, Any] = {}
    if fields.attributes is not None:
        values["attributes"] = dict(fields.attributes)
    if fields.language is not None:
        match = _LANGUAGE.fullmatch(fields.language)
        if match is None:
            raise UserError.of(
                "invalid_language",
                f'"{fields.language}" is not a language code (pl, en, pt-BR)',
                field="language",
            )
        primary, region = match.groups()
        values["language"] = primary.lower() + (f"-{region.upper()}" if region else "")
    if fields.timezone is not None:
        if fields.timezone not in zoneinfo.available_timezones():
            raise UserError.of(
                "invalid_timezone",
                f'"{fields.timezone}" is not a time zone (Europe/Warsaw)',
                field="timezone",
            )
        values["timezone"] = fields.timezone
    if fields.email is not None:
        values["email"] = _email(fields.email) if fields.email.strip() else None
    if fields.whatsapp is not None:
        values["whatsapp"] = (
            _whatsapp(workspace, fields.whatsapp) if fields.whatsapp.strip() else None
        )
    if fields.tags is not None:
        values["tags"] = list(dict.fromkeys(t.strip() for t in fields.tags if t.strip()))
    return values


def _email(raw: str) -> str:
    try:
        return normalise_email(raw)
    except UserError:
        raise UserError.of(
            "invalid_email", f'"{raw}" is not an email address', field="email"
        ) from None


def _whatsapp(workspace: WorkspaceRef, raw: str) -> str:
    try:
        return parse_phone(raw, workspace.country).e164
    except PhoneError as error:
        raise UserError.of(
            "invalid_whatsapp", f"whatsapp {error.problem.message}", field="whatsapp"
        ) from None


def _phone(workspace: WorkspaceRef, raw: str) -> tuple[str, str]:
    try:
        phone = parse_phone(raw, workspace.country)
    except PhoneError as error:
        raise UserError(error.problem) from None
    return phone.e164, phone.country


def _shown(conn: Connection, contact_id: int) -> dict[str, Any]:
    row = conn.execute(
        select(*(contacts.c[c] for c in SHOWN)).where(contacts.c.id == contact_id)
    ).one()
    shown = dict(row._mapping)
    shown["consent"] = consent_store.current_state(conn, contact_id)
    return shown


def contact_id_in(conn: Connection, workspace: WorkspaceRef, contact_id: int) -> int:
    """The id, once it is known to be a contact of this workspace (else unknown_contact)."""
    found = conn.execute(
        select(contacts.c.id).where(
            contacts.c.id == contact_id, contacts.c.workspace_id == workspace.id
        )
    ).scalar()
    if found is None:
        raise UserError.of("unknown_contact", f"no contact #{contact_id}", field="contact_id")
    return int(found)


def contact_phone(engine: Engine, workspace: WorkspaceRef, contact_id: int) -> str:
    with engine.connect() as conn:
        contact_id_in(conn, workspace, contact_id)
        return str(
            conn.execute(select(contacts.c.phone).where(contacts.c.id == contact_id)).scalar_one()
        )


def get_contact(engine: Engine, workspace: WorkspaceRef, contact_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        return _shown(conn, contact_id_in(conn, workspace, contact_id))


def list_contacts(
    engine: Engine,
    workspace: WorkspaceRef,
    *,
    after: int,
    limit: int,
    tag: str | None = None,
    phone_prefix: str | None = None,
    updated_since: datetime | None = None,
) -> list[dict[str, Any]]:
    query = select(*(contacts.c[c] for c in SHOWN)).where(
        contacts.c.workspace_id == workspace.id, contacts.c.id > after
    )
    if phone_prefix:
        query = query.where(contacts.c.phone.startswith(phone_prefix, autoescape=True))
    if updated_since is not None:
        query = query.where(contacts.c.updated_at >= updated_since)
    if tag:
        # JSON arrays are text on both databases; match the quoted tag inside.
        quoted = '"' + tag.replace("\\", "\\\\").replace('"', '\\"') + '"'
        query = query.where(cast(contacts.c.tags, String).contains(quoted, autoescape=True))
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(contacts.c.id).limit(limit)).all()
        return [dict(row._mapping) for row in rows]


def create_contact(
    engine: Engine,
    settings: Settings,
    workspace: WorkspaceRef,
    fields: ContactFields,
    *,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    with engine.begin() as conn:
        contact_id, _ = _upsert(conn, settings, workspace, fields, now, create_only=True)
        record_audit(
            conn, workspace.id, actor, "contact.created", f"contact #{contact_id}", {}, now
        )
        return _shown(conn, contact_id)


def update_contact(
    engine: Engine,
    workspace: WorkspaceRef,
    contact_id: int,
    fields: ContactFields,
    *,
    now: datetime,
) -> dict[str, Any]:
    """Changes the given fields; attributes are merged key by key (a null value removes one)."""
    values = _checked(workspace, fields)
    with engine.begin() as conn:
        contact_id_in(conn, workspace, contact_id)
        if "attributes" in values:
            stored = conn.execute(
                select(contacts.c.attributes).where(contacts.c.id == contact_id)
            ).scalar_one()
            values["attributes"] = _merged_attributes(stored or {}, values["attributes"])
        if values:
            conn.execute(
                update(contacts).where(contacts.c.id == contact_id).values(**values, updated_at=now)
            )
        return _shown(conn, contact_id)


def _merged_attributes(stored: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    merged = {**stored, **given}
    return {name: value for name, value in merged.items() if value is not None}


def _upsert(
    conn: Connection,
    settings: Settings,
    workspace: WorkspaceRef,
    fields: ContactFields,
    now: datetime,
    *,
    create_only: bool = False,
) -> tuple[int, str]:
    """Creates or changes one contact; returns its id and created|updated|unchanged."""
    if not fields.phone:
        raise UserError.of("missing_phone", "a contact needs a phone", field="phone")
    e164, country = _phone(workspace, fields.phone)
    values = _checked(workspace, fields)
    existing = conn.execute(
        select(contacts).where(contacts.c.workspace_id == workspace.id, contacts.c.phone == e164)
    ).first()
    if existing is None:
        hashed = phone_hash(settings.resolved_secret_key(), e164)
        if contact_store.erased_hashes(conn, workspace.id, [hashed]):
            raise UserError.of(
                "erased_phone",
                f"{e164} was erased at the person's request; it can come back "
                "only with new consent (POST /api/v1/consent/opt-in)",
                field="phone",
            )
        new_id = conn.execute(
            insert(contacts)
            .values(
                workspace_id=workspace.id,
                phone=e164,
                country=country,
                attributes=_merged_attributes({}, values.get("attributes", {})),
                language=values.get("language"),
                timezone=values.get("timezone") or timezone_for_phone(e164, workspace.timezone),
                email=values.get("email"),
                whatsapp=values.get("whatsapp"),
                tags=values.get("tags", []),
                created_at=now,
                updated_at=now,
            )
            .returning(contacts.c.id)
        ).scalar_one()
        return int(new_id), "created"
    if create_only:
        raise UserError.of(
            "contact_exists", f"{e164} is already contact #{existing.id}", field="phone"
        )
    if "attributes" in values:
        values["attributes"] = _merged_attributes(existing.attributes or {}, values["attributes"])
    changed = {k: v for k, v in values.items() if getattr(existing, k) != v}
    if not changed:
        return int(existing.id), "unchanged"
    conn.execute(
        update(contacts).where(contacts.c.id == existing.id).values(**changed, updated_at=now)
    )
    return int(existing.id), "updated"


def upsert_contacts(
    engine: Engine,
    settings: Settings,
    workspace: WorkspaceRef,
    batch: Sequence[ContactFields],
    *,
    actor: str,
    now: datetime,
) -> UpsertResult:
    """Creates or merges each contact by phone; a bad item is reported and the rest kept."""
    if len(batch) > MAX_BATCH:
        raise UserError.of(
            "batch_too_large",
            f"at most {MAX_BATCH} contacts per request (got {len(batch)}); use an import for files",
            field="contacts",
        )
    result = UpsertResult()
    with engine.begin() as conn:
        for index, fields in enumerate(batch):
            try:  # _upsert checks everything before it writes: a refusal leaves no trace
                contact_id, outcome = _upsert(conn, settings, workspace, fields, now)
            except UserError as error:
                result.rejected += 1
                result.items.append(_rejected(index, error.problem))
                continue
            setattr(result, outcome, getattr(result, outcome) + 1)
            result.items.append({"index": index, "id": contact_id, "outcome": outcome})
        record_audit(
            conn,
            workspace.id,
            actor,
            "contacts.upserted",
            f"{len(batch)} contacts",
            {"created": result.created, "updated": result.updated, "rejected": result.rejected},
            now,
        )
    return result


def _rejected(index: int, problem: Problem) -> dict[str, Any]:
    return {
        "index": index,
        "id": None,
        "outcome": "rejected",
        "error": {
            "code": problem.code,
            "field": f"contacts[{index}].{problem.field or 'phone'}",
            "message": problem.message,
        },
    }
