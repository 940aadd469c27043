"""Declaring incidents and finding them again."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime

from anyascii import anyascii
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.canonical import iso
from bot.catalog import Catalog
from bot.errors import NotFoundError, NotInIncidentError, UsageError
from bot.record import chain
from storage.models import Incident, RoleAssignment
from storage.safetext import storable

OPEN_STATUSES = ("investigating", "mitigated", "resolved")
MAX_CHANNEL = 80
MAX_MODELS_TEXT = 500  # "a@1,b@2" as typed: what the declare form's field takes, and the card lists in full
START_USAGE = "/retro start <title> [sev=1..4] [type=<category>] [model=<name>@<version>] [private=yes]"


@dataclass(frozen=True)
class Declaration:
    """A validated request to declare an incident."""

    title: str
    severity: int
    category: str
    private: bool = False
    models: tuple[str, ...] = ()
    description: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    # Declared by the bot (from an alert): `commander` leads (None: nobody until someone takes the role), and
    # `detected_at` is when the problem was detected (the earliest alert's start) rather than the declaration.
    automatic: bool = False
    commander: str | None = None
    detected_at: datetime | None = None


def validate_declaration(catalog: Catalog, *, title: str, severity: str | int | None, category: str | None,
                         private: str | bool | None = None, models: tuple[str, ...] = (),
                         description: str = "") -> Declaration:
    """Check title, severity and category against the team's configuration."""
    title = storable(" ".join(title.split()))
    if not title:
        raise UsageError("An incident needs a title.", START_USAGE)
    if len(title) > 150:
        raise UsageError("The title is longer than 150 characters.", START_USAGE)
    levels = [s.level for s in catalog.severities]
    try:
        level = int(severity) if severity is not None else max(levels) - 1 if len(levels) > 1 else levels[0]
    except ValueError:
        level = -1
    if level not in levels:
        valid = ", ".join(f"{s.level} ({s.name})" for s in catalog.severities)
        raise UsageError(f"Unknown severity `{severity}`. Valid severities: {valid}.", START_USAGE)
    cat_id = (category or "").strip().lower() or "model-regression"
    cat = catalog.category(cat_id)
    if cat is None:
        valid = ", ".join(c.id for c in catalog.categories)
        raise UsageError(f"Unknown category `{category}`. Valid categories: {valid}.", START_USAGE)
    if len(",".join(models)) > MAX_MODELS_TEXT:
        raise UsageError(f"The model list is longer than {MAX_MODELS_TEXT} characters.", START_USAGE)
    for model in models:
        if not re.fullmatch(r"[\w.\-/:]+(@[\w.\-]+)?", model):
            raise UsageError(f"`{model}` is not a model reference like `fraud@3`.", START_USAGE)
    is_private = cat.private
    if isinstance(private, bool):
        is_private = private or is_private
    elif private is not None:
        flag = private.strip().lower()
        if flag not in ("yes", "no", "true", "false"):
            raise UsageError("`private` takes yes or no.", START_USAGE)
        is_private = flag in ("yes", "true") or is_private
    return Declaration(title, level, cat_id, is_private, tuple(models), storable(description.strip()))


# Slack's markup in a title: `<@U…|name>`, `<#C…|name>`, `<!here>`, `<https://host/…|label>`.
_MARKUP = re.compile(r"<([@#!]?)([^<>|]*)(?:\|([^<>]*))?>")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:(?://)?", re.IGNORECASE)
# Apostrophes inside words, in the title or in a transliteration (`model's`, `Model'`, `model’s`, `modelʼs`).
_APOSTROPHES = re.compile("['\u2019\u02bc]")


def _markup_words(m: re.Match[str]) -> str:
    """What a reference reads as in a name: its label, a link's host, never a user, channel or group id."""
    sigil, target, label = m.group(1), m.group(2), m.group(3)
    if label:
        return f" {label} "
    if sigil or not _SCHEME.match(target):
        return " "
    return f" {_SCHEME.sub('', target).split('/', 1)[0]} "


def short_id(title: str) -> str:
    """Six characters that stand for a title with nothing to transliterate (the same title, the same id)."""
    return hashlib.sha256(title.encode("utf-8", "surrogatepass")).hexdigest()[:6]


def slugify(title: str, *, limit: int = 50) -> str:
    """Slack-legal slug: lowercase ASCII letters, digits and single dashes, in any script transliterated
    (`推荐模型漂移` → `tuijianmoxingpiaoyi`, `Модель оттока` → `model-ottoka`), Slack's markup read as its words,
    apostrophes dropped (`model's` → `models`), cut at a dash; a short id when nothing readable is left."""
    words = _APOSTROPHES.sub("", anyascii(_MARKUP.sub(_markup_words, title)))
    slug = re.sub(r"[^a-z0-9]+", "-", words.lower()).strip("-")
    if len(slug) > limit:
        cut = slug[:limit + 1].rfind("-")
        slug = slug[:cut] if cut > limit // 2 else slug[:limit].rstrip("-")
    return slug or short_id(title)


def base_channel_name(title: str, now: datetime) -> str:
    """`inc-<yyyymmdd>-<slug>`, within Slack's 80-character limit."""
    return f"inc-{now:%Y%m%d}-{slugify(title)}"[:MAX_CHANNEL]


def suffixed(base: str, n: int) -> str:
    """The n-th candidate name (`base`, `base-2`, `base-3`…), still within 80 characters."""
    if n <= 1:
        return base
    tail = f"-{n}"
    return base[: MAX_CHANNEL - len(tail)].rstrip("-") + tail


async def first_free_name(session: AsyncSession, team_id: str, base: str) -> int:
    """The first suffix number whose name Retro has not used yet in this workspace."""
    rows = await session.exec(
        select(Incident.channel_name).where(Incident.team_id == team_id,
                                            col(Incident.channel_name).startswith(base[:70]))
    )
    taken = set(rows.all())
    n = 1
    while suffixed(base, n) in taken:
        n += 1
    return n


async def create(session: AsyncSession, *, team_id: str, decl: Declaration, declared_by: str, declared_in: str,
                 channel_id: str, channel_name: str, now: datetime, enterprise_id: str | None = None) -> Incident:
    """Record a declared incident, its commander and its first timeline entries; commits."""
    incident = Incident(
        team_id=team_id, enterprise_id=enterprise_id, channel_id=channel_id, channel_name=channel_name,
        title=decl.title, description=decl.description, severity=decl.severity, category=decl.category,
        private=decl.private, declared_by=declared_by, declared_in=declared_in, models=list(decl.models),
        created_at=now, detected_at=decl.detected_at or now, last_update_at=now,
    )
    session.add(incident)
    await session.flush()
    assert incident.id is not None
    auto = {"automatic": True, "detected_at": iso(decl.detected_at)} if decl.automatic else {}
    await chain.append(session, incident_id=incident.id, kind="declared", at=now, actor=declared_by,
                       text=decl.title, key_event=True,
                       data={"severity": decl.severity, "category": decl.category, "private": decl.private,
                             "models": list(decl.models), "channel": channel_name, "description": decl.description,
                             **auto})
    lead = decl.commander if decl.automatic else declared_by
    if lead:
        session.add(RoleAssignment(team_id=team_id, incident_id=incident.id, role="commander", user_id=lead,
                                   assigned_by=declared_by, assigned_at=now))
        await chain.append(session, incident_id=incident.id, kind="role_assigned", at=now, actor=declared_by,
                           data={"role": "commander", "user": lead, "previous": None})
    await session.commit()
    return incident


async def by_channel(session: AsyncSession, team_id: str, channel_id: str) -> Incident | None:
    """The incident whose channel this is, if any."""
    rows = await session.exec(select(Incident).where(Incident.team_id == team_id, Incident.channel_id == channel_id))
    return rows.first()


async def open_incidents(session: AsyncSession, team_id: str) -> list[Incident]:
    """Open incidents, most severe first, then oldest."""
    rows = await session.exec(
        select(Incident).where(Incident.team_id == team_id, col(Incident.status).in_(OPEN_STATUSES))
        .order_by(col(Incident.severity), col(Incident.created_at))
    )
    return list(rows.all())


def same_title(a: str, b: str) -> bool:
    """Whether two titles are the same but for case and spaces."""
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


async def declared_like(session: AsyncSession, team_id: str, *, channel_id: str,
                        title: str) -> tuple[Incident | None, list[Incident]]:
    """What a new declaration may duplicate: the incident whose channel it is made from, and the open incidents with
    the same title (case and spaces aside)."""
    here = await by_channel(session, team_id, channel_id) if channel_id else None
    same = [i for i in await open_incidents(session, team_id) if title.strip() and same_title(i.title, title)]
    return here, same


async def private_in_team(session: AsyncSession, team_id: str) -> list[Incident]:
    """Every private incident of a workspace (to work out which ones a reader may not see)."""
    return list((await session.exec(select(Incident).where(Incident.team_id == team_id,
                                                           col(Incident.private).is_(True)))).all())


async def require_in_channel(session: AsyncSession, team_id: str, channel_id: str) -> Incident:
    """The channel's incident, or an error that lists the open ones."""
    incident = await by_channel(session, team_id, channel_id)
    if incident is not None:
        return incident
    public = [i for i in await open_incidents(session, team_id) if not i.private]
    listing = ", ".join(f"#{i.channel_name}" for i in public) or "none"
    raise NotInIncidentError(f"This command works inside an incident channel. Open incidents: {listing}.")


async def by_reference(session: AsyncSession, ref: str, *, team_id: str | None = None) -> Incident:
    """Look an incident up by numeric id, channel name (with or without #) or channel id."""
    ref = ref.strip().lstrip("#")
    query = select(Incident)
    if team_id is not None:
        query = query.where(Incident.team_id == team_id)
    if ref.isdigit():
        query = query.where(Incident.id == int(ref))
    else:
        query = query.where((Incident.channel_name == ref) | (Incident.channel_id == ref))
    found = list((await session.exec(query)).all())
    if not found:
        raise NotFoundError(f"No incident named {ref!r}.")
    if len(found) > 1:
        raise NotFoundError(f"{ref!r} names incidents in several workspaces; use the numeric id.")
    return found[0]
