"""The record kinds xingqu stores, declared once.

Each kind lists its fields with type, requiredness, allowed values and references. The store derives
its tables from these declarations, ingest derives its validation, and export its Parquet schema, so a
field added here is stored, validated and exported without a second declaration.

Units: money is integer fen (分, 1/100 yuan); times are UTC, stored as integer milliseconds since the
Unix epoch; tags are lists of strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from xingqu.domain.vocab import (
    AccountKind,
    AgeBand,
    BrandTier,
    CityTier,
    ConsumptionLevel,
    ContentKind,
    ContentMode,
    Crowd,
    EventType,
    Gender,
    ProductStatus,
    RefundReason,
    RelationKind,
    ShopStatus,
    ShopType,
    Surface,
)
from xingqu.errors import NotFoundError

#: Longest id accepted anywhere; longer ids are almost always a column mix-up.
MAX_ID_LENGTH = 128

# -- domain bounds: what any reader (CSV, JSON Lines, Parquet) and the API accept, declared once --------

#: Longest free text (title, description, name) in characters, in every format alike.
MAX_TEXT_LENGTH = 20_000
#: Most tags in one tags field, and the longest tags cell as written (JSON array or 'a|b|c').
MAX_TAGS = 200
#: Longest record as read (one JSON line, one CSV field) in bytes: beyond it a row is refused unparsed,
#: so that one enormous line costs neither minutes nor gigabytes.
MAX_RECORD_BYTES = 4 * 1024 * 1024
#: Largest amount of money, in fen: 10^12 fen is 10 billion yuan. Sums of many such values still fit
#: a 64-bit integer, so every rollup stays exact.
MAX_MONEY = 10**12
#: Largest whole number in any other integer field (counts, stock, seconds, positions).
MAX_INT = 10**12
#: Largest quantity of one order line.
MAX_QUANTITY = 1_000_000
#: Largest plain number (watch seconds, scores); NaN and infinities are refused.
MAX_FLOAT = 1e12
#: Earliest time accepted (default of ``Settings.earliest_time``): older dates are typing mistakes.
EARLIEST_TIME = datetime(2000, 1, 1, tzinfo=UTC)
#: How far past now a time may lie (default of ``Settings.future_tolerance_s``): clocks differ a little,
#: but an event dated 2999 would end every "last N days" window in the future.
FUTURE_TOLERANCE = timedelta(days=1)
#: Smallest group a portrait or audience describes (default of ``Settings.min_group_size``).
MIN_GROUP_SIZE = 30


@dataclass(frozen=True)
class TimeWindow:
    """The plausible window of stored times, in UTC milliseconds since the epoch (both ends included)."""

    earliest_ms: int
    latest_ms: int

    @classmethod
    def around_now(
        cls, earliest: datetime = EARLIEST_TIME, tolerance: timedelta = FUTURE_TOLERANCE
    ) -> TimeWindow:
        """From ``earliest`` to now plus ``tolerance``."""
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        latest = datetime.now(UTC) + tolerance
        return cls(
            (earliest - epoch) // timedelta(milliseconds=1), (latest - epoch) // timedelta(milliseconds=1)
        )

    def describe(self) -> str:
        """The window in words, for error messages."""
        fmt = "%Y-%m-%dT%H:%M:%SZ"
        lo = datetime.fromtimestamp(self.earliest_ms / 1000, UTC).strftime(fmt)
        hi = datetime.fromtimestamp(self.latest_ms / 1000, UTC).strftime(fmt)
        return f"between {lo} and {hi}"


class FieldType(StrEnum):
    ID = "id"  # external identifier, non-empty string without control characters
    TEXT = "text"  # free text (Chinese titles, descriptions), stored exactly as given
    INT = "int"
    MONEY = "money"  # integer fen, never negative
    FLOAT = "float"
    BOOL = "bool"
    TIMESTAMP = "timestamp"  # UTC, integer ms since epoch in storage
    ENUM = "enum"
    TAGS = "tags"  # list of non-empty strings


@dataclass(frozen=True)
class FieldSpec:
    """One column of one record kind."""

    name: str
    type: FieldType
    required: bool = False
    enum: type[StrEnum] | None = None
    ref: str | None = None  # kind whose key this field (or each tag) must name
    min: float | None = None
    max: float | None = None
    default: object = None
    doc: str = ""


@dataclass(frozen=True)
class Requirement:
    """When ``when_field`` has one of ``when_values``, at least one of ``any_of`` must be present."""

    when_field: str
    when_values: frozenset[str]
    any_of: tuple[str, ...]


@dataclass(frozen=True)
class ConditionalRef:
    """A field whose referenced kind depends on another field's value (relations' targets)."""

    field: str
    by_field: str
    kinds: dict[str, str]


@dataclass(frozen=True)
class KindSpec:
    """A record kind: its table, key, fields and the rules that span fields."""

    name: str
    key: tuple[str, ...]
    fields: tuple[FieldSpec, ...]
    append_only: bool = False  # events: a repeated key is a duplicate delivery, never an update
    requirements: tuple[Requirement, ...] = ()
    conditional_refs: tuple[ConditionalRef, ...] = ()
    doc: str = ""
    _by_name: dict[str, FieldSpec] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update({f.name: f for f in self.fields})

    @property
    def table(self) -> str:
        return self.name

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> FieldSpec:
        return self._by_name[name]

    def has(self, name: str) -> bool:
        return name in self._by_name


def _f(name: str, ftype: FieldType, **kw: object) -> FieldSpec:
    return FieldSpec(name, ftype, **kw)  # type: ignore[arg-type]


ID, TEXT, INT, MONEY, FLOAT, BOOL, TS, ENUM, TAGS = (
    FieldType.ID,
    FieldType.TEXT,
    FieldType.INT,
    FieldType.MONEY,
    FieldType.FLOAT,
    FieldType.BOOL,
    FieldType.TIMESTAMP,
    FieldType.ENUM,
    FieldType.TAGS,
)

BRANDS = KindSpec(
    "brands",
    key=("brand_id",),
    fields=(
        _f("brand_id", ID, required=True),
        _f("name", TEXT, required=True),
        _f("tier", ENUM, enum=BrandTier),
        _f("owner", TEXT, doc="owning company"),
    ),
    doc="Brands (品牌); the authorisation chain to shops is the basis of counterfeit checks.",
)

SHOPS = KindSpec(
    "shops",
    key=("shop_id",),
    fields=(
        _f("shop_id", ID, required=True),
        _f("name", TEXT, required=True),
        _f("shop_type", ENUM, required=True, enum=ShopType),
        _f("brand_ids", TAGS, ref="brands", doc="brands the shop is authorised to sell"),
        _f("official_account_id", ID, doc="号店一体: the account bound as the shop's official account"),
        _f("experience_score", FLOAT, min=0, max=5, doc="店铺体验分, 0–5"),
        _f("status", ENUM, enum=ShopStatus, default=ShopStatus.ACTIVE.value),
        _f("created_at", TS),
    ),
    doc="Shops (店铺).",
)

CREATORS = KindSpec(
    "creators",
    key=("creator_id",),
    fields=(
        _f("creator_id", ID, required=True),
        _f("name", TEXT, required=True),
        _f("kind", ENUM, enum=AccountKind, default=AccountKind.CREATOR.value),
        _f("shop_id", ID, ref="shops", doc="the shop of an official or channel account"),
        _f("follower_count", INT, min=0, default=0),
        _f("main_categories", TAGS, doc="主推类目: level-1 categories the account mainly sells"),
        _f("content_mode", ENUM, enum=ContentMode),
        _f("created_at", TS),
    ),
    requirements=(
        Requirement(
            "kind",
            frozenset({AccountKind.SHOP_OFFICIAL.value, AccountKind.SHOP_CHANNEL.value}),
            ("shop_id",),
        ),
    ),
    doc="Accounts that carry goods in content: creators (达人) and shops' own accounts.",
)

USERS = KindSpec(
    "users",
    key=("user_id",),
    fields=(
        _f("user_id", ID, required=True),
        _f("gender", ENUM, enum=Gender),
        _f("age_band", ENUM, enum=AgeBand),
        _f("province", TEXT),
        _f("city", TEXT),
        _f("city_tier", ENUM, enum=CityTier),
        _f("crowd", ENUM, enum=Crowd, doc="八大人群"),
        _f("consumption_level", ENUM, enum=ConsumptionLevel),
        _f("is_parent", BOOL),
        _f("registered_at", TS),
    ),
    doc="Consumers (用户) with the demographic fields that portraits are built from.",
)

PRODUCTS = KindSpec(
    "products",
    key=("product_id",),
    fields=(
        _f("product_id", ID, required=True),
        _f("shop_id", ID, required=True, ref="shops"),
        _f("brand_id", ID, ref="brands"),
        _f("category", TEXT, required=True, doc="category path, levels joined by '>'"),
        _f("title", TEXT, required=True),
        _f("description", TEXT),
        _f("price", MONEY, required=True, doc="sale price in fen"),
        _f("reference_price", MONEY, doc="划线价 in fen"),
        _f("style_tags", TAGS),
        _f("function_tags", TAGS),
        _f("stock", INT, min=0, default=0),
        _f("status", ENUM, enum=ProductStatus, default=ProductStatus.LISTED.value),
        _f("commission_rate", FLOAT, min=0, max=1, doc="精选联盟 affiliate commission, 0–1"),
        _f("qualifications", TAGS, doc="licences held for restricted categories"),
        _f("created_at", TS),
    ),
    doc="Products (商品, SPU).",
)

CONTENT = KindSpec(
    "content",
    key=("content_id",),
    fields=(
        _f("content_id", ID, required=True),
        _f("kind", ENUM, required=True, enum=ContentKind),
        _f("creator_id", ID, required=True, ref="creators"),
        _f("title", TEXT),
        _f("category", TEXT),
        _f("product_ids", TAGS, ref="products", doc="products carried (小黄车 / live line-up), in order"),
        _f("published_at", TS, required=True, doc="video publish time or live start"),
        _f("ended_at", TS, doc="live end"),
        _f("duration_s", INT, min=0),
    ),
    doc="Short videos and live sessions carrying products (场).",
)

RELATIONS = KindSpec(
    "relations",
    key=("user_id", "kind", "target_id"),
    fields=(
        _f("user_id", ID, required=True, ref="users"),
        _f("kind", ENUM, required=True, enum=RelationKind),
        _f("target_id", ID, required=True, doc="an account for follow and fan_group, a shop for membership"),
        _f("level", INT, min=0, default=0, doc="fan-group level or membership points"),
        _f("since", TS),
    ),
    conditional_refs=(
        ConditionalRef(
            "target_id",
            "kind",
            {
                RelationKind.FOLLOW.value: "creators",
                RelationKind.FAN_GROUP.value: "creators",
                RelationKind.MEMBERSHIP.value: "shops",
            },
        ),
    ),
    doc="Private-domain relations (私域): follows, fan-group memberships, shop memberships.",
)

_E = EventType
EVENTS = KindSpec(
    "events",
    key=("event_id",),
    append_only=True,
    fields=(
        _f("event_id", ID, required=True, doc="assigned by the producer; repeats are duplicates"),
        _f("event_type", ENUM, required=True, enum=EventType),
        _f("ts", TS, required=True),
        _f("user_id", ID, required=True, ref="users"),
        _f("surface", ENUM, enum=Surface),
        _f("product_id", ID, ref="products"),
        _f("content_id", ID, ref="content"),
        _f("creator_id", ID, ref="creators"),
        _f("shop_id", ID, ref="shops"),
        _f("order_id", ID),
        _f("quantity", INT, min=1, max=MAX_QUANTITY),
        _f("amount", MONEY, doc="order, paid or refunded amount in fen"),
        _f("position", INT, min=0, doc="rank of an impression in its list"),
        _f("watch_s", FLOAT, min=0, max=366 * 86_400, doc="watch time of a play or a live visit"),
        _f("refund_reason", ENUM, enum=RefundReason),
        _f("rating", INT, min=1, max=5),
        _f("referrer_id", ID, ref="users", doc="who shared, for referral events"),
        _f(
            "request_id",
            ID,
            doc="the feed response the event followed from (credits it to that response's arm)",
        ),
    ),
    requirements=(
        Requirement(
            "event_type", frozenset({_E.IMPRESSION, _E.CLICK, _E.SHARE}), ("product_id", "content_id")
        ),
        Requirement("event_type", frozenset({_E.ADD_TO_CART, _E.ORDER, _E.PAY, _E.REVIEW}), ("product_id",)),
        Requirement("event_type", frozenset({_E.ORDER, _E.PAY, _E.REFUND}), ("order_id",)),
        Requirement("event_type", frozenset({_E.ORDER, _E.PAY, _E.REFUND}), ("amount",)),
        Requirement("event_type", frozenset({_E.REFUND}), ("refund_reason",)),
        Requirement("event_type", frozenset({_E.REVIEW}), ("rating",)),
        Requirement("event_type", frozenset({_E.FOLLOW}), ("creator_id", "shop_id")),
        Requirement("event_type", frozenset({_E.JOIN_FAN_GROUP}), ("creator_id",)),
        Requirement("event_type", frozenset({_E.JOIN_MEMBERSHIP}), ("shop_id",)),
        Requirement("event_type", frozenset({_E.LIVE_ENTER, _E.VIDEO_PLAY}), ("content_id",)),
        Requirement("event_type", frozenset({_E.VIDEO_PLAY}), ("watch_s",)),
    ),
    doc="The behaviour log: append-only, deduplicated by event_id.",
)

#: Every kind by name, in dependency order: a kind only references kinds before it.
KINDS: dict[str, KindSpec] = {
    k.name: k for k in (BRANDS, SHOPS, CREATORS, USERS, PRODUCTS, CONTENT, RELATIONS, EVENTS)
}
IMPORT_ORDER: tuple[str, ...] = tuple(KINDS)


class UnknownKindError(NotFoundError, KeyError):
    """A kind name that is not one of ``KINDS`` (exit 1 in the CLI, a KeyError to lookups)."""

    def __str__(self) -> str:
        return str(self.args[0])


def kind_spec(name: str) -> KindSpec:
    """The spec of a kind by name, or an ``UnknownKindError`` listing the known kinds."""
    try:
        return KINDS[name]
    except KeyError:
        raise UnknownKindError(f"unknown kind {name!r}; known kinds: {', '.join(KINDS)}") from None
