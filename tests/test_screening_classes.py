"""Screening by the classes of rules 2026.11.6: each family catches forms it was not written from and lets
its look-alikes pass, and properties check the new ways of writing a term for every listed term at once
(Roman and formal numerals, the letter o for a zero, homophones, the initials of every character)."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xingqu.governance import Screener
from xingqu.governance.brands import BrandNames
from xingqu.governance.normalise import ROMAN, homophone_variants, initials, normalise_term, screening_norm

S = Screener.default()


def decide(title: str, description: str = "", **listing: object) -> tuple[str, list[tuple[str, str | None]]]:
    d = S.screen({"id": "x", "title": title, "description": description, **listing})
    return d.decision, [(r.group, r.term) for r in d.reasons]


# --- families completed from the public compilations -----------------------------------------------


@pytest.mark.parametrize(
    ("title", "description", "decision", "group"),
    [
        # absolute terms of the 「稀缺」「独家」 families and the trade's N biggest brands
        ("保温杯 颜值没有之一 316不锈钢", "", "reject", "absolute_level"),
        ("茶具 东方美学缔造者 手工青瓷", "", "reject", "absolute_level"),
        ("电动牙刷 全国十大品牌之一 声波", "", "reject", "absolute_rank"),
        ("跑步机 业内第一 家用折叠", "", "reject", "absolute_rank"),
        ("空气炸锅 同类产品第一 5L", "", "reject", "absolute_rank"),
        # a state body or research institution as endorsement
        ("鱼油软胶囊 中国工程院院士团队联合研发", "", "reject", "state_endorsement"),
        ("羽毛球拍 国家体育总局认证 全碳素", "", "reject", "state_endorsement"),
        ("牛奶 中国营养学会推荐 250ml", "", "reject", "state_endorsement"),
        ("白酒 内供 酱香型", "", "reject", "authority"),
        ("儿童牙膏 口腔医院专家推荐", "", "reject", "medical_endorsement"),
        # results promised within a time
        ("瘦身咖啡 一周瘦8斤", "", "reject", "promised_result"),
        ("祛痘膏 3天见效", "", "reject", "promised_result"),
        ("面霜 冻龄 紧致", "", "reject", "efficacy"),
        # disease claims of the health-food notices
        ("红曲米片 软化血管 中老年", "", "reject", "efficacy"),
        ("深海鱼油 预防心梗 100粒", "", "reject", "disease_claim"),
        ("护膝 告别滑膜炎 加热款", "", "reject", "disease_claim"),
        ("足贴 摆脱痛风 30贴", "", "reject", "disease_claim"),
        # prohibited goods families
        ("春节鞭炮 大地红 1000响", "", "reject", "prohibited"),
        ("结婚冷焰火 喷泉 室内", "", "reject", "prohibited"),
        ("警衔肩章 一套 拍摄道具", "", "reject", "prohibited"),
        ("祖传水银祛斑膏 20g", "", "reject", "prohibited"),
        ("派对笑气球 10支装", "", "reject", "prohibited"),
        ("野生鲟鱼 现杀 2斤", "", "reject", "wildlife"),
        ("豹牙吊坠 老料 包真", "", "reject", "wildlife_part"),
        ("考研全套网课 网盘 自动发货", "", "reject", "pirated_content"),
        ("专业电鱼机 大功率", "", "reject", "prohibited"),
        ("跳刀 开刃 户外", "", "reject", "controlled_knife"),
        ("Taser 防身 户外", "", "reject", "prohibited"),
        ("四六级耳机 考场答案实时传", "", "reject", "cheating_device"),
        ("一次性雾化器 西瓜味 大烟雾", "", "reject", "prohibited"),
        ("对公账户 出售 带U盾", "", "reject", "card_trade"),
        ("和平精英 自瞄 科技", "", "reject", "game_cheat"),
        ("毕业论文代写 本科", "", "reject", "prohibited"),
        # counterfeit
        ("AJ1 公司级 高帮 篮球鞋", "", "reject", "counterfeit"),
        ("香奈儿同款 1:1 链条包", "", "reject", "counterfeit"),
        ("AAA货 机械表", "", "reject", "counterfeit"),
        # homophones and initials
        ("螺蛳粉 醉正宗 5包", "", "reject", "absolute_superlative"),
        ("男士片 添加 XDNF", "", "reject", "prohibited"),
        ("驴家同款 托特包 五金一致", "", "reject", "brand_nickname"),
        # diversion in plain words
        ("少儿编程课", "报名后加客服微信发课表", "review", "diversion_add"),
        ("定制T恤 团体服", "下单前请加企业微信确认图案", "review", "diversion_add"),
        ("进口红酒 整箱", "订购热线 021-64801234", "review", "diversion_landline"),
        ("羽毛球 12只装", "球友交流 wechat: qiuyou_2024", "review", "diversion_id"),
        ("钓鱼竿 碳素", "钓友交流微信群 扫码入", "review", "diversion"),
        # urgency
        ("月饼礼盒 中秋 卖完为止", "", "review", "false_urgency"),
        ("羊毛被 过了今晚就没了", "", "review", "false_urgency"),
        ("坚果礼盒 最后2批 现货", "", "review", "false_urgency"),
    ],
)
def test_each_completed_family_catches_its_forms(
    title: str, description: str, decision: str, group: str
) -> None:
    got, reasons = decide(title, description)
    assert got == decision, reasons
    assert group in {g for g, _ in reasons}, reasons


@pytest.mark.parametrize(
    ("title", "description"),
    [
        ("NFC 纯原汁 橙汁 1L", ""),  # a plain juice, not a 纯原 copy
        ("唯一的你 S925项链 刻字", "可刻'你是我的唯一'"),  # a love phrase, engraving text
        ("国家级高新技术企业出品 扫地机器人", ""),  # a designation the state grants
        ("LED电子烟花 婚礼氛围灯", ""),
        ("人间烟火 铁板烧 酱料", "烟火气满满"),
        ("果园防鸟网 10米", ""),
        ("18K钻石戒指 G色 VVS2 30分", "净度VVS2,附证书"),  # a clarity grade, not a WeChat id
        ("收款音箱 支持微信支付宝", "接入微信、支付宝到账播报"),
        ("猛犸象牙 化石 雕件", ""),
        ("正版图书 拒绝盗版 红楼梦", ""),
        ("全自动倒数计时器 厨房", ""),
        ("无水银 温度计 电子", ""),
        ("店铺人气第一 保温杯 316", "店铺人气第一(店铺后台数据,近30天)"),  # the description states the scope
        ("USB3.0 U盘 64G", ""),
        ("10oz 陶瓷马克杯", ""),  # an ounce, not a zero
        ("双11同款价 连衣裙", ""),  # a shopping festival, not a 1:1 copy
        ("医用雾化器 儿童 家用", ""),  # a nebuliser with no flavour
        ("虎皮凤爪 卤味", ""),
        ("珊瑚绒睡衣 女", ""),
        ("加湿器 静音", "支持微信小程序控制"),
        ("白色 T恤 当天发货", ""),
        ("鞭炮挂件 新年装饰", ""),
        ("江豚公仔 毛绒", ""),
        ("4K粉色显示器 27寸", ""),
        ("面霜 开封后最好3个月内用完", ""),  # a consumer tip with its time
        ("科普绘本 第一辑 10册", ""),  # an ordinal with its counter
        ("冠军联名 跑鞋", "奥运冠军签名款"),
        ("醉大虾 即食", ""),  # homophones vary only terms of three or more characters
        ("兄弟一起 桌游", ""),
        ("宇宙极光 投影灯", ""),
    ],
)
def test_look_alikes_of_the_families_pass(title: str, description: str) -> None:
    got, reasons = decide(title, description)
    assert got == "approve", reasons


def test_a_scope_in_the_description_covers_only_the_claim_it_restates() -> None:
    # the description scopes 店铺人气第一, not the title's other claim, and not a claim it does not restate
    assert decide("店铺人气第一 保温杯", "店铺人气第一(店铺后台数据)")[0] == "approve"
    assert decide("销量第一 保温杯", "本店包邮，第一次使用请清洗")[0] == "review"
    assert decide("全网第一 保温杯", "本店包邮")[0] == "reject"


def test_a_vague_title_less_the_listings_own_brand_name() -> None:
    brands = BrandNames([("b1", "小芽")])
    title = "小芽 宝妈福利 今日好物"
    listing = {"id": "v", "title": title, "brand": "b1"}
    assert S.screen(listing, brands=brands).decision == "review"
    assert S.screen({**listing, "title": "小芽 婴儿床 今日好物"}, brands=brands).decision == "approve"


# --- ways of writing a term, for every listed term ---------------------------------------------------


def _listed() -> list[tuple[str, str]]:
    """(term, decision) of every listed term that screens alone as its group's severity."""
    out = set()
    for _, t in S.terms.values():
        d = S.screen({"id": "t", "title": f"新品 {t.term} 现货"}).decision
        if d == t.severity:
            out.add((t.term, d))
    return sorted(out)


LISTED = _listed()
WITH_ONE = [(t, d) for t, d in LISTED if "一" in t]
WITH_HOMOPHONE = [(t, d) for t, d in LISTED if homophone_variants(t, S.homophones)]
_SHARED = Counter(initials(t) for t, _ in LISTED)
#: terms whose initials no other listed term shares (qwdj is 全网独家 and 全网底价: the strictest counts)
WITH_INITIALS = [(t, d) for t, d in LISTED if initials(t) in S.initials and _SHARED[initials(t)] == 1]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(WITH_ONE), st.sampled_from(["Ⅰ", "ⅰ", "壹"]))
def test_any_listed_term_with_a_roman_or_formal_one_is_caught(case: tuple[str, str], one: str) -> None:
    term, decision = case
    assert S.screen({"id": "t", "title": f"新品 {term.replace('一', one)} 现货"}).decision == decision


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(WITH_HOMOPHONE), st.data())
def test_any_listed_term_with_a_homophone_is_caught(case: tuple[str, str], data: st.DataObject) -> None:
    term, decision = case
    written = data.draw(st.sampled_from(sorted(homophone_variants(term, S.homophones))))
    assert S.screen({"id": "t", "title": f"新品 {written} 现货"}).decision == decision


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(WITH_INITIALS), st.booleans(), st.sampled_from(["", " ", "·"]))
def test_any_listed_term_in_initials_is_caught_as_a_whole_word_only(
    case: tuple[str, str], upper: bool, sep: str
) -> None:
    term, decision = case
    spelled = initials(term).upper() if upper else initials(term)
    assert S.screen({"id": "t", "title": f"新品{sep}{spelled}{sep}现货"}).decision == decision
    # run on into a longer Latin word, the letters are no term
    longer = S.screen({"id": "t", "title": f"新品 {spelled}x 现货"})
    assert all(r.term != term or r.rule.startswith("platform") for r in longer.reasons), longer.reasons


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 10**6), st.data())
def test_the_letter_o_for_a_zero_inside_a_number_reads_as_the_zero(n: int, data: st.DataObject) -> None:
    digits = str(n * 10)  # at least one zero, never first
    suffix = data.draw(st.sampled_from(["%", "ml", "元", ""]))
    # a trailing o before letters may be a unit (10oz): only before a digit or % is it a zero
    last = len(digits) if suffix == "%" else len(digits) - 1
    zeros = [i for i, c in enumerate(digits) if c == "0" and 0 < i < last]
    if not zeros:
        return
    chosen = data.draw(st.lists(st.sampled_from(zeros), min_size=1, unique=True))
    written = "".join(data.draw(st.sampled_from("oO")) if i in chosen else c for i, c in enumerate(digits))
    assert screening_norm(f"容量{written}{suffix}") == screening_norm(f"容量{digits}{suffix}")


@given(st.sampled_from(sorted(ROMAN)))
def test_roman_numerals_read_as_their_digits(numeral: str) -> None:
    assert screening_norm(f"第{numeral}代") == f"第{ROMAN[numeral]}代"
    assert screening_norm("加Ⅴ") == "加v"  # Ⅴ and Ⅹ stay the letters they look like


def test_formal_numerals_read_as_numerals() -> None:
    assert screening_norm("贰叁柒捌玖 貳") == "二三七八九二"
    assert decide("联系 壹叁玖 贰捌捌零 柒叁叁玖")[0] == "review"  # a phone number in formal numerals


def test_initials_need_every_character_read() -> None:
    assert initials("他达拉非") == "tdlf"
    assert S.screen({"id": "t", "title": "新品 QWDJ 现货"}).decision == "reject"  # 全网底价 over 全网独家
    assert initials("第一") == ""  # too short to stand alone as Latin text
    assert normalise_term("TDLF") in S.initials
