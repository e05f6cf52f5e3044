"""Builds xingqu's labelled listing set for screening: hand-written listings (below, each with the
decision a reviewer applying the rule book would give) and listings of a seeded simulated catalogue
(labelled from the simulator's ground truth: what it planted, not what the screener says).

    python benchmarks/data/screening/build.py   # rewrites listings.jsonl and context.json beside it

Each line: id, shop, title, description, category, brand, price (fen), optional reference_price,
lowest_price_7d and qualifications, and ``label`` (approve | review | reject) with ``source`` and
``note``. context.json: the shops' authorised brands and a catalogue of (brand, category, price) whose
medians are the usual prices of the price-floor rule.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from xingqu.sim.config import SimConfig
from xingqu.sim.run import simulate

HERE = Path(__file__).parent

SHOPS = {"s-yun": ["b-yun"], "s-qing": ["b-qing", "b-mu"], "s-hai": ["b-hai"], "s-bai": []}
#: Usual prices (fen) per brand and category, five listed goods each.
CATALOGUE = [
    *[("b-yun", "beauty_skincare>serum", p) for p in (15900, 16900, 19900, 21900, 25900)],
    *[("b-yun", "beauty_skincare>cream", p) for p in (12900, 13900, 15900, 16900, 18900)],
    *[("b-qing", "women_apparel>dresses", p) for p in (19900, 22900, 25900, 29900, 35900)],
    *[("b-mu", "women_apparel>shirts", p) for p in (9900, 12900, 13900, 15900, 19900)],
    *[("b-hai", "digital_3c>earphones", p) for p in (19900, 29900, 39900, 49900, 59900)],
    *[(None, "food_snacks>nuts", p) for p in (2990, 3990, 4990, 5990, 6990)],
    *[(None, "home>kitchen", p) for p in (3990, 5990, 7990, 8990, 12900)],
    *[("b-lux", "bags>handbags", p) for p in (1590000, 1890000, 2290000, 2590000, 3290000)],
]

SHOP_OF = {"b-yun": "s-yun", "b-qing": "s-qing", "b-mu": "s-qing", "b-hai": "s-hai", None: "s-bai"}
CAT_OF = {
    "serum": ("beauty_skincare>serum", "b-yun", 19900),
    "cream": ("beauty_skincare>cream", "b-yun", 15900),
    "dress": ("women_apparel>dresses", "b-qing", 25900),
    "shirt": ("women_apparel>shirts", "b-mu", 12900),
    "ear": ("digital_3c>earphones", "b-hai", 39900),
    "nuts": ("food_snacks>nuts", None, 4990),
    "kitchen": ("home>kitchen", None, 7990),
    "vitamin": ("health_supplements>vitamins", None, 8990),
    "formula": ("mother_baby>formula", None, 26900),
}

# (kind of goods, title, label, note) — description, brand, price and shop follow from the kind
APPROVE = [
    ("serum", "云杉玻尿酸补水精华液 30ml", "plain"),
    ("serum", "最近上新的云杉保湿精华", "最近 is not a superlative"),
    ("serum", "云杉精华 第一次使用请先做耳后测试", "第一次"),
    ("serum", "云杉修护精华 至少可用两个月", "至少"),
    ("serum", "云杉精华液 甚至适合敏感肌", "甚至"),
    ("serum", "云杉精华 最后一天发货前可改地址", "最后一天"),
    ("serum", "雲杉玫瑰保濕精華露", "traditional characters, clean"),
    ("serum", "云杉精华液 本店销量第一", "scoped rank claim"),
    ("serum", "云杉精华 数据来源：2025年度天猫统计 销量第一", "scoped with a source"),
    ("serum", "云杉精华 第一批现货", "第一批"),
    ("serum", "云杉精华 冬至礼盒", "冬至"),
    ("serum", "云杉精华 截至本月底有货", "截至"),
    ("serum", "云杉精华 最终解释权归本店", "最终"),
    ("serum", "云杉精华 第一步洁面第二步精华", "第一步"),
    ("serum", "云杉精华 第一眼就爱上的质地", "第一眼"),
    ("cream", "云杉修护面霜 50g", "plain"),
    ("cream", "云杉面霜 最多可用90天", "最多"),
    ("cream", "云杉面霜 最少购买一件", "最少"),
    ("cream", "云杉面霜 第一代配方升级版", "第一代"),
    ("cream", "云杉面霜 以至于回购三次", "以至"),
    ("cream", "云杉面霜 直至吸收", "直至"),
    ("cream", "雲杉修護面霜 滋潤不油膩", "traditional, clean"),
    ("cream", "云杉面霜 本品牌首发款", "scoped"),
    ("cream", "云杉面霜 本系列销量冠军", "scoped"),
    ("cream", "云杉面霜 高级灰包装限定版", "高级灰 is a colour"),
    ("cream", "云杉面霜 夏至清爽款", "夏至"),
    ("cream", "云杉面霜 最初的配方", "最初"),
    ("cream", "云杉面霜 最迟明天发货", "最迟"),
    ("cream", "云杉面霜 至今已售十万件", "至今"),
    ("cream", "ＹＵＮＳＨＡＮ 面霜 50g", "full-width letters, clean"),
    ("dress", "青木法式碎花连衣裙 夏季新款", "plain"),
    ("dress", "青木碎花裙 100%纯棉", "fabric content is a fact, not a claim"),
    ("dress", "青木连衣裙 100%桑蚕丝", "fabric content"),
    ("dress", "青木连衣裙 第一件半价活动", "第一件"),
    ("dress", "青木连衣裙 最后一件清仓尺码", "最后一件"),
    ("dress", "青木连衣裙 店内第一款复古裙", "scoped"),
    ("dress", "青木連衣裙 法式複古碎花", "traditional, clean"),
    ("dress", "青木连衣裙 首页同款", "首页 is not a first claim"),
    ("dress", "青木连衣裙 领口设计显瘦", "领口 is not 领先"),
    ("dress", "青木连衣裙 顶部系带设计", "顶部 is not 顶级"),
    ("dress", "青木连衣裙 极简风", "极简 is not 极品"),
    ("dress", "青木连衣裙 第一天穿就收到夸奖", "第一天"),
    ("dress", "青木 高腰A字连衣裙", "A字 is a cut, not A货"),
    ("dress", "青木连衣裙 2025年度统计本店销量冠军", "scoped"),
    ("dress", "青木连衣裙 至于尺码请看详情", "至于"),
    ("shirt", "木简约白衬衫 男女同款", "plain"),
    ("shirt", "木白衬衫 100%棉 透气", "fabric content"),
    ("shirt", "木衬衫 第一层防晒面料", "第一层"),
    ("shirt", "木衬衫 最近很火的版型", "最近"),
    ("shirt", "木衬衫 唯一一次折扣", "唯一一次"),
    ("shirt", "木衬衫 首次购买送衣架", "首次 is not 首发"),
    ("shirt", "木衬衫 经典翻领款", "plain"),
    ("shirt", "木襯衫 簡約百搭", "traditional, clean"),
    ("shirt", "木衬衫 绝对值得入手", "绝对 alone is not listed"),
    ("shirt", "木衬衫 本店冠军款", "scoped"),
    ("ear", "海星降噪蓝牙耳机 续航30小时", "plain"),
    ("ear", "海星耳机 第一次配对说明", "第一次"),
    ("ear", "海星蓝牙耳机 最近更新固件", "最近"),
    ("ear", "海星耳机 充电至100%自动断电", "charging level is a fact"),
    ("ear", "海星耳机 本店首发新品", "scoped"),
    ("ear", "海星耳機 主動降噪", "traditional, clean"),
    ("ear", "海星耳机 ＴＷＳ 蓝牙5.3", "full-width, clean"),
    ("ear", "海星耳机 至少续航20小时", "至少"),
    ("ear", "海星耳机 送第一代充电仓", "第一代"),
    ("ear", "海星耳机 运动防汗", "plain"),
    ("nuts", "每日坚果 混合果仁 750g", "plain"),
    ("nuts", "坚果礼盒 冬至送礼", "冬至"),
    ("nuts", "坚果 最后一天发货后停发", "最后一天发货"),
    ("nuts", "原味腰果 500g 第一批新货", "第一批"),
    ("nuts", "夏威夷果 奶油味 至少两斤", "至少"),
    ("nuts", "碧根果 甚至比去年更饱满", "甚至"),
    ("nuts", "開心果 原味無漂白", "traditional, clean"),
    ("nuts", "坚果 店内销量冠军", "scoped"),
    ("nuts", "每日坚果 第一次买送小罐", "第一次"),
    ("nuts", "巴旦木 薄壳 500g", "plain"),
    ("kitchen", "不锈钢炒锅 32cm 不粘", "plain"),
    ("kitchen", "硅胶铲 耐高温 最高耐热230度", "最高耐热 is a spec… but 最高 is absolute"),
    ("kitchen", "厨房收纳架 第一层放调料", "第一层"),
    ("kitchen", "砧板 最近热卖款", "最近"),
    ("kitchen", "保鲜盒 至少十件套", "至少"),
    ("kitchen", "菜刀 厨师刀 锋利", "plain"),
    ("kitchen", "電飯煲 家用4L", "traditional, clean"),
    ("kitchen", "炒锅 本品牌销量第一", "scoped"),
    ("kitchen", "蒸锅 第一次使用先清洗", "第一次使用"),
    ("kitchen", "锅铲 终身保修", "plain"),
    ("vitamin", "复合维生素片 60粒 保健食品", "qualified"),
    ("vitamin", "维生素C咀嚼片 30片", "qualified"),
    ("formula", "婴儿配方奶粉 1段 800g", "qualified"),
    ("serum", "云杉精华 到手价159 原价199", "price words, reference supported"),
    ("cream", "云杉面霜 第一款敏感肌专研", "第一款 — a rank claim without scope"),
]
APPROVE_FIXES = {  # hand-written listings above whose reviewer label is not approve after all
    "云杉面霜 第一款敏感肌专研": ("review", "an unscoped first claim"),
    "木衬衫 绝对值得入手": (
        "reject",
        "绝对值得 is 绝对 + 值得, an absolute claim; relabelled from approve, rules 2026.11.5",
    ),
    # relabelled to approve: 最高耐热230度 is a measured limit (SAMR 2023), as in the development sets
    "硅胶铲 耐高温 最高耐热230度": (
        "approve",
        "最高耐热230度 is a measured limit (a specification, SAMR 2023); "
        "relabelled from reject, rules 2026.11.5",
    ),
}
QUALIFIED = {"复合维生素片 60粒 保健食品", "维生素C咀嚼片 30片", "婴儿配方奶粉 1段 800g"}

VIOLATING = [
    # absolute superlatives and levels (reject)
    ("serum", "云杉最好用的精华液", "reject", "最好"),
    ("serum", "云杉 最 好 用 精华", "reject", "spaced 最好"),
    ("serum", "云杉最\u200b佳精华", "reject", "zero-width inside 最佳"),
    ("serum", "云杉最🔥佳精华液", "reject", "emoji inside 最佳"),
    ("serum", "云杉精華 最佳拍檔", "reject", "traditional 最佳"),
    ("serum", "国家级配方精华", "reject", "国家级"),
    ("serum", "國家級配方精華", "reject", "traditional 国家级"),
    ("serum", "顶级修护精华", "reject", "顶级"),
    ("serum", "頂級修護精華", "reject", "traditional 顶级"),
    ("serum", "世界级抗老精华", "reject", "世界级"),
    ("cream", "史上最强保湿面霜", "reject", "史上最强"),
    ("cream", "全网最低价 云杉面霜", "reject", "全网最低价"),
    ("cream", "云杉面霜 独一无二的配方", "reject", "独一无二"),
    ("cream", "雲杉面霜 獨一無二", "reject", "traditional 独一无二"),
    ("cream", "云杉面霜 万能修护", "reject", "万能"),
    ("cream", "云杉面霜 无与伦比的滋润", "reject", "无与伦比"),
    ("cream", "云杉面霜 最优选择", "reject", "最优"),
    ("cream", "云杉面霜 最優選擇", "reject", "traditional 最优"),
    ("dress", "青木连衣裙 最时尚款", "reject", "最时尚"),
    ("dress", "青木连衣裙 最受欢迎", "reject", "最受欢迎"),
    ("dress", "青木连衣裙 极品面料", "reject", "极品"),
    ("dress", "青木连衣裙 一流做工", "reject", "一流"),
    ("shirt", "木衬衫 最舒适的白衬衫", "reject", "最舒适"),
    ("shirt", "木衬衫 顶 级 面 料", "reject", "spaced 顶级"),
    ("ear", "海星耳机 最强降噪", "reject", "最强"),
    ("ear", "海星耳机 尖端科技", "reject", "尖端"),
    ("ear", "海星耳机 最先进芯片", "reject", "最先进"),
    ("ear", "海星耳機 最先進晶片", "reject", "traditional 最先进"),
    ("nuts", "坚果 最新鲜的一批", "reject", "最新鲜"),
    ("nuts", "坚果 全网最低价", "reject", "全网最低价"),
    ("kitchen", "炒锅 永久不粘", "reject", "永久"),
    ("kitchen", "菜刀 百分之百不生锈", "reject", "百分之百"),
    ("kitchen", "保鲜盒 零风险", "reject", "零风险"),
    # a product ranked first without scope: a superlative (reject since rules 2026.11.5, review before);
    # ranks by sales and first-to-market claims without scope (review)
    ("serum", "云杉精华 全网销量第一", "review", "销量第一"),
    (
        "serum",
        "ＮＯ．１ 精华液",
        "reject",
        "NO.1 without scope: a superlative (art. 9(3)); relabelled from review, rules 2026.11.5",
    ),
    (
        "serum",
        "云杉精华 No 1",
        "reject",
        "No 1 without scope: a superlative (art. 9(3)); relabelled from review, rules 2026.11.5",
    ),
    (
        "serum",
        "TOP1 精华液",
        "reject",
        "TOP1 without scope: a superlative (art. 9(3)); relabelled from review, rules 2026.11.5",
    ),
    (
        "serum",
        "第①名的精华",
        "reject",
        "第①名 without scope: a superlative (art. 9(3)); relabelled from review, rules 2026.11.5",
    ),
    ("cream", "云杉面霜 销量冠军", "review", "销量冠军"),
    ("cream", "云杉面霜 全网首发", "review", "首发"),
    ("cream", "云杉面霜 独家配方", "review", "独家"),
    ("dress", "青木连衣裙 遥遥领先", "review", "领先"),
    (
        "dress",
        "青木连衣裙 第1名",
        "reject",
        "第1名 without scope: a superlative (art. 9(3)); relabelled from review, rules 2026.11.5",
    ),
    (
        "shirt",
        "木衬衫 首选面料",
        "reject",
        "首选 without scope: a superlative (art. 9(3)); relabelled from review, rules 2026.11.5",
    ),
    ("ear", "海星耳机 领导品牌", "review", "领导品牌"),
    ("ear", "海星耳機 銷量第一", "review", "traditional 销量第一"),
    (
        "nuts",
        "坚果 全国第一",
        "reject",
        "全国第一 (no measure ranked by) without scope: a superlative; "
        "relabelled from review, rules 2026.11.5",
    ),
    ("kitchen", "炒锅 首家专利", "review", "首家"),
    # authority and efficacy (reject)
    ("formula", "婴儿奶粉 国家免检", "reject", "国家免检"),
    ("nuts", "坚果 特供礼盒", "reject", "特供"),
    ("kitchen", "炒锅 驰名商标", "reject", "驰名商标"),
    ("cream", "祛痘膏 祖传秘方", "reject", "祖传秘方"),
    ("cream", "面霜 根治湿疹", "reject", "根治"),
    ("serum", "精华 无副作用 特效美白", "reject", "特效, 无副作用"),
    ("vitamin", "维生素片 治愈失眠", "reject", "治愈"),
    # counterfeit markers (reject)
    ("dress", "高仿大牌连衣裙", "reject", "高仿"),
    ("dress", "精仿 名牌同款裙", "reject", "精仿"),
    ("ear", "A货 耳机", "reject", "A货"),
    ("ear", "原单 蓝牙耳机 尾货", "reject", "原单"),
    ("shirt", "1:1复刻 衬衫", "reject", "1:1"),
    ("shirt", "1比1 大牌衬衫", "reject", "1比1"),
    ("dress", "超A 连衣裙", "reject", "超A"),
    # prohibited goods (reject)
    ("ear", "一次性电子烟 薄荷味", "reject", "电子烟"),
    ("ear", "電子煙 水果味", "reject", "traditional 电子烟"),
    ("kitchen", "仿真枪 儿童玩具", "reject", "仿真枪"),
    ("kitchen", "管制刀具 户外", "reject", "管制刀具"),
    ("nuts", "槟榔 提神", "reject", "槟榔"),
    ("vitamin", "处方药 降压", "reject", "处方药"),
    ("kitchen", "象牙 摆件", "reject", "象牙"),
    # restricted categories without their qualification (review)
    ("vitamin", "复合维生素 女士", "review", "no health-food permit"),
    ("vitamin", "鱼油软胶囊 100粒", "review", "no health-food permit"),
    ("formula", "婴儿配方奶粉 2段", "review", "no formula registration"),
    # off-platform diversion and false urgency (review)
    ("dress", "青木连衣裙 加微信下单更优惠", "review", "加微信"),
    ("dress", "青木连衣裙 私聊下单", "review", "私聊下单"),
    ("ear", "海星耳机 VX咨询", "review", "vx"),
    ("ear", "海星耳机 加V了解", "review", "加v"),
    ("nuts", "坚果 扫码加群", "review", "扫码加"),
    ("nuts", "坚果 万人疯抢", "review", "万人疯抢"),
    ("kitchen", "炒锅 再不抢就没了", "review", "再不抢就没了"),
    ("kitchen", "炒锅 随时涨价", "review", "随时涨价"),
    # vague titles (review)
    ("kitchen", "好物链接 3号", "review", "vague"),
    ("kitchen", "百货 套装", "review", "vague"),
    ("nuts", "福利款 秒杀", "review", "vague"),
    ("dress", "直播间专拍 补差价", "review", "vague"),
    ("ear", "捡漏 孤品", "review", "vague"),
    ("serum", "宝贝链接1号", "review", "vague"),
]


def hand_listings() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def add(kind: str, title: str, label: str, note: str, **extra: Any) -> None:
        category, brand, price = CAT_OF[kind]
        row = {
            "id": f"h{len(rows) + 1:03d}",
            "shop": SHOP_OF[brand],
            "title": title,
            "description": "",
            "category": category,
            "brand": brand,
            "price": price,
            **extra,
            "label": label,
            "source": "hand",
            "note": note,
        }
        rows.append(row)

    for kind, title, note in APPROVE:
        label, why = APPROVE_FIXES.get(title, ("approve", note))
        extra: dict[str, Any] = {}
        if kind == "vitamin" and title in QUALIFIED:
            extra["qualifications"] = ["health_food_permit"]
        if kind == "formula" and title in QUALIFIED:
            extra["qualifications"] = ["infant_formula_registration"]
        if "原价" in title:
            extra |= {"reference_price": 19900, "lowest_price_7d": 19900}
        add(kind, title, label, why, **extra)
    for kind, title, label, note in VIOLATING:
        add(kind, title, label, note)
    # descriptions carry claims too
    add("serum", "云杉补水精华", "reject", "superlative in the description", description="全网最好用的精华")
    add("cream", "云杉面霜", "review", "diversion in the description", description="详情请加微信咨询")
    add(
        "dress",
        "青木针织开衫 秋季",
        "approve",
        "clean description",
        description="最近很受欢迎的法式款，第一次洗请手洗",
    )
    # price rules
    add(
        "serum",
        "云杉精华 限时特价",
        "reject",
        "reference above the 7-day low",
        reference_price=29900,
        lowest_price_7d=15900,
    )
    add(
        "cream",
        "云杉面霜 活动价",
        "reject",
        "reference above the 7-day low",
        reference_price=25900,
        lowest_price_7d=14900,
    )
    # relabelled to approve (rules 2026.11.5): no sale of the product, but the brand's goods in the category
    # are in the catalogue, which supports a reference price as in the development sets' label policy
    add(
        "dress",
        "青木连衣裙 折扣价",
        "approve",
        "reference price: the brand lists dresses in the catalogue (its price line is on record); "
        "relabelled from review, rules 2026.11.5",
        reference_price=39900,
    )
    add(
        "ear",
        "海星耳机 新品",
        "approve",
        "reference price: the brand lists earphones in the catalogue (its price line is on record); "
        "relabelled from review, rules 2026.11.5",
        reference_price=59900,
    )
    add(
        "ear",
        "海星耳机 直降",
        "approve",
        "reference equals the 7-day low",
        reference_price=39900,
        lowest_price_7d=39900,
    )
    add(
        "shirt",
        "木衬衫 立减",
        "approve",
        "reference below the 7-day low",
        reference_price=12900,
        lowest_price_7d=13900,
    )
    add(
        "nuts",
        "坚果礼盒 原价",
        "approve",
        "reference no higher than the price (no discount claimed)",
        reference_price=4990,
    )
    add("serum", "云杉精华液 30ml", "review", "price under 30% of the brand's usual", price=2900)
    add("ear", "海星降噪耳机", "review", "price under 30% of the brand's usual", price=5900)
    add("dress", "青木法式连衣裙", "review", "price under 30% of the brand's usual", price=3900)
    add("kitchen", "不锈钢汤锅", "review", "price under 30% of the category's usual", price=990)
    add("ear", "海星耳机 学生款", "approve", "cheaper but within the usual range", price=19900)
    # brands the shop is not authorised for (reject), and one it is
    rows.append(
        {
            "id": "h-brand-1",
            "shop": "s-bai",
            "title": "路易斯 手提包",
            "description": "",
            "category": "bags>handbags",
            "brand": "b-lux",
            "price": 1890000,
            "label": "reject",
            "source": "hand",
            "note": "brand not authorised",
        }
    )
    rows.append(
        {
            "id": "h-brand-2",
            "shop": "s-hai",
            "title": "云杉面霜",
            "description": "",
            "category": "beauty_skincare>cream",
            "brand": "b-yun",
            "price": 15900,
            "label": "reject",
            "source": "hand",
            "note": "brand of another shop",
        }
    )
    rows.append(
        {
            "id": "h-brand-3",
            "shop": "s-bai",
            "title": "路易斯 手提包 特价",
            "description": "",
            "category": "bags>handbags",
            "brand": "b-lux",
            "price": 99000,
            "label": "reject",
            "source": "hand",
            "note": "brand not authorised, far under the usual price",
        }
    )
    # near-duplicates in one shop (the later one goes to review); the same title in another shop does not
    for i, (title, again) in enumerate(
        [
            ("青木丝绒长裙 秋冬 酒红色", "青木丝绒长裙 秋冬 酒红色 热卖"),
            ("海星骨传导耳机 游泳防水 黑色", "海星骨传导耳机 游泳防水 黑色 新款"),
            ("云杉玫瑰纯露精华 50ml 清爽", "云杉玫瑰纯露精华 清爽 50ml"),
            ("碧根果仁 奶香味 罐装 500g", "碧根果仁 奶香味 罐装 500g 热卖"),
        ]
    ):
        kind = ("dress", "ear", "serum", "nuts")[i]
        add(kind, title, "approve", "original listing")
        add(kind, again, "review", "near-duplicate of the listing before it")
    add("kitchen", "青木丝绒长裙 秋冬 酒红色", "approve", "same words, another shop and category")
    return rows


TERM_LABEL = {"第一品牌": "review", "销量第一": "review"}  # rank claims: review; other planted terms reject
KIND_LABEL = {
    "absolute_term": "reject",
    "counterfeit": "reject",
    "prohibited": "reject",
    "diversion": "review",
    "duplicate": "review",
    "": "approve",
}


def simulated_listings(clean: int = 160) -> tuple[list[dict[str, Any]], dict[str, list[str]], list[Any]]:
    """Every planted violation of a seeded catalogue, the originals of its duplicates, and ``clean``
    other listings; with the shops' authorised brands and the catalogue's prices."""
    with tempfile.TemporaryDirectory() as tmp:
        simulate(SimConfig(users=300, products=4_000, creators=20, days=1, seed=11), tmp)
        products = pq.read_table(Path(tmp) / "products.parquet").to_pylist()
        shops = pq.read_table(Path(tmp) / "shops.parquet").to_pylist()
        truth = {
            r["product_id"]: r for r in pq.read_table(Path(tmp) / "truth" / "products.parquet").to_pylist()
        }
    keep: set[str] = set()
    for p in products:
        t = truth[p["product_id"]]
        if t["violation"]:
            keep.add(p["product_id"])
            if t["violation"] == "duplicate":
                keep.add(f"p{int(t['violation_term'].split(':')[1]):04d}")
    # the simulator repeats a shop's title core when a big shop has more products of one kind than it
    # has words to tell them apart; such listings are unplanted duplicates, not clean ones: left out
    cores = Counter((p["shop_id"], p["title"].split(" ")[0]) for p in products)
    clean_ids = [
        p["product_id"]
        for p in products
        if not truth[p["product_id"]]["violation"] and cores[(p["shop_id"], p["title"].split(" ")[0])] == 1
    ]
    keep.update(clean_ids[:: max(1, len(clean_ids) // clean)][:clean])
    rows = []
    for p in products:  # catalogue order: an original comes before its duplicate
        if p["product_id"] not in keep:
            continue
        t = truth[p["product_id"]]
        label = TERM_LABEL.get(t["violation_term"] or "", KIND_LABEL[t["violation"] or ""])
        rows.append(
            {
                "id": f"sim-{p['product_id']}",
                "shop": p["shop_id"],
                "title": p["title"],
                "description": p.get("description") or "",
                "category": p["category"],
                "brand": p["brand_id"],
                "price": p["price"],
                "qualifications": p.get("qualifications"),
                "label": label,
                "source": "simulator",
                "note": t["violation"] or "clean",
            }
        )
    authorised = {s["shop_id"]: list(s["brand_ids"] or []) for s in shops}
    catalogue = [(p["brand_id"], p["category"], p["price"]) for p in products]
    return rows, authorised, catalogue


def main() -> None:
    sim_rows, authorised, catalogue = simulated_listings()
    rows = hand_listings() + sim_rows
    with (HERE / "listings.jsonl").open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    context = {"authorised_brands": {**authorised, **SHOPS}, "catalogue": [*CATALOGUE, *catalogue]}
    (HERE / "context.json").write_text(json.dumps(context, ensure_ascii=False) + "\n", encoding="utf-8")
    labels = {k: sum(r["label"] == k for r in rows) for k in ("approve", "review", "reject")}
    print(f"{len(rows)} listings ({len(rows) - len(sim_rows)} by hand, {len(sim_rows)} simulated): {labels}")


if __name__ == "__main__":
    main()
