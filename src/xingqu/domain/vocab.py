"""Enumerations of the marketplace vocabulary (人、货、场): values as stored and as written in files."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Role(StrEnum):
    """Who an API key speaks for: what it may do is ``xingqu.api.access``'s table."""

    ADMIN = "admin"  # everything, keys included
    OPS = "ops"  # governance and platform reports
    APP = "app"  # events, catalogue, feeds, similar products
    MERCHANT = "merchant"  # its own shops' goods, audiences and figures
    CREATOR = "creator"  # itself: portrait, selection, live sessions


class Gender(StrEnum):
    F = "F"
    M = "M"


class AgeBand(StrEnum):
    UNDER_18 = "<18"
    A18_23 = "18-23"
    A24_30 = "24-30"
    A31_40 = "31-40"
    A41_49 = "41-49"
    A50_PLUS = "50+"


class CityTier(StrEnum):
    """一线 … 六线: T1, new tier 1 (NT1), then T2–T6."""

    T1 = "T1"
    NT1 = "NT1"
    T2 = "T2"
    T3 = "T3"
    T4 = "T4"
    T5 = "T5"
    T6 = "T6"


class Crowd(StrEnum):
    """The eight strategic consumer crowds (八大人群)."""

    GEN_Z = "gen_z"  # Z世代
    URBAN_WHITE_COLLAR = "urban_white_collar"  # 都市白领
    EXQUISITE_MOM = "exquisite_mom"  # 精致妈妈
    NEW_MIDDLE_CLASS = "new_middle_class"  # 新锐白领 / 资深中产
    URBAN_BLUE_COLLAR = "urban_blue_collar"  # 都市蓝领
    SMALL_TOWN_YOUTH = "small_town_youth"  # 小镇青年
    SMALL_TOWN_MIDDLE_AGED = "small_town_middle_aged"  # 小镇中老年
    URBAN_SILVER = "urban_silver"  # 都市银发


class ConsumptionLevel(StrEnum):
    LOW = "low"
    MID = "mid"
    MID_HIGH = "mid_high"
    HIGH = "high"


class BrandTier(StrEnum):
    INTERNATIONAL = "international"
    NATIONAL = "national"
    EMERGING = "emerging"  # 抖品牌 / 新锐品牌
    WHITE_LABEL = "white_label"  # 白牌


class ShopType(StrEnum):
    FLAGSHIP = "flagship"  # 旗舰店
    BRAND_AUTHORIZED = "brand_authorized"  # 专卖店
    MULTI_BRAND = "multi_brand"  # 专营店
    ORDINARY = "ordinary"  # 普通店


class ShopStatus(StrEnum):
    ONBOARDING = "onboarding"
    ACTIVE = "active"
    RESTRICTED = "restricted"
    SUSPENDED = "suspended"
    CLOSED = "closed"


class ProductStatus(StrEnum):
    PENDING = "pending"
    LISTED = "listed"
    REJECTED = "rejected"
    TAKEN_DOWN = "taken_down"


class AccountKind(StrEnum):
    """What an account is: a third-party creator (达人) or a shop's own official/channel account."""

    CREATOR = "creator"
    SHOP_OFFICIAL = "shop_official"  # 号店一体 official account
    SHOP_CHANNEL = "shop_channel"  # 渠道号 / 授权号
    BRAND = "brand"


class ContentMode(StrEnum):
    LIVE = "live"
    SHORT_VIDEO = "short_video"
    BOTH = "both"


class ContentKind(StrEnum):
    VIDEO = "video"
    LIVE = "live"


class RelationKind(StrEnum):
    """Private-domain relations (私域): whom a relation points at depends on its kind."""

    FOLLOW = "follow"  # user → account (creator)
    FAN_GROUP = "fan_group"  # user → account (creator), 购物粉丝团
    MEMBERSHIP = "membership"  # user → shop, 品牌会员


class Surface(StrEnum):
    """Where an event happened (场)."""

    FEED = "feed"
    SEARCH = "search"
    LIVE_ROOM = "live_room"
    VIDEO = "video"
    SHOP_PAGE = "shop_page"
    MALL = "mall"


class EventType(StrEnum):
    IMPRESSION = "impression"
    CLICK = "click"
    ADD_TO_CART = "add_to_cart"
    ORDER = "order"
    PAY = "pay"
    REFUND = "refund"
    REVIEW = "review"
    FOLLOW = "follow"
    JOIN_FAN_GROUP = "join_fan_group"
    JOIN_MEMBERSHIP = "join_membership"
    SHARE = "share"
    LIVE_ENTER = "live_enter"
    VIDEO_PLAY = "video_play"


class RefundReason(StrEnum):
    QUALITY = "quality"  # 品质问题
    NOT_AS_DESCRIBED = "not_as_described"  # 描述不符
    SIZE_FIT = "size_fit"
    LOGISTICS_DAMAGE = "logistics_damage"
    SELLER_FAULT = "seller_fault"
    NO_REASON_7DAY = "no_reason_7day"  # 七天无理由


#: Servability — which products may be shown anywhere (governance wins everywhere): a product whose
#: status is one of these, with stock, of a shop whose status is not blocked (or of no known shop).
SERVABLE_PRODUCT_STATUSES = (ProductStatus.LISTED.value,)
#: Shop statuses whose goods may not be shown.
BLOCKED_SHOP_STATUSES = (ShopStatus.SUSPENDED.value, ShopStatus.CLOSED.value)


def servable_mask(status: Any, stock: Any, shop_status: Any) -> Any:
    """The servability rule over columns (Arrow arrays or chunked arrays: product status, stock, the
    shop's status with nulls for unknown shops), for tables held in memory such as the simulator's;
    ``Store.catalogue.servable_products`` is the same rule in SQL."""
    import pyarrow.compute as pc

    listed = pc.is_in(status, value_set=_arrow_set(SERVABLE_PRODUCT_STATUSES))
    blocked = pc.fill_null(pc.is_in(shop_status, value_set=_arrow_set(BLOCKED_SHOP_STATUSES)), False)
    return pc.and_(pc.and_(listed, pc.greater(stock, 0)), pc.invert(blocked))


def _arrow_set(values: tuple[str, ...]) -> Any:
    import pyarrow as pa

    return pa.array(list(values), pa.string())
