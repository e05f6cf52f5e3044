"""Chinese names and titles from templates: brands, shops, creators, product titles, violations."""

from __future__ import annotations

import numpy as np

#: Leaf nouns per level-1 category (the level-2 part of the category path is the pinyin-free key).
NOUNS: dict[str, list[tuple[str, str]]] = {
    "women_apparel": [
        ("dress", "连衣裙"),
        ("shirt", "衬衫"),
        ("tshirt", "T恤"),
        ("skirt", "半身裙"),
        ("coat", "风衣"),
    ],
    "men_apparel": [
        ("tshirt", "T恤"),
        ("shirt", "衬衫"),
        ("pants", "休闲裤"),
        ("jacket", "夹克"),
        ("hoodie", "卫衣"),
    ],
    "shoes_bags": [("sneakers", "运动鞋"), ("handbag", "手提包"), ("backpack", "双肩包"), ("boots", "短靴")],
    "beauty_skincare": [
        ("serum", "精华液"),
        ("cream", "面霜"),
        ("mask", "面膜"),
        ("toner", "爽肤水"),
        ("lipstick", "口红"),
    ],
    "personal_care": [
        ("shampoo", "洗发水"),
        ("toothpaste", "牙膏"),
        ("bodywash", "沐浴露"),
        ("lotion", "身体乳"),
    ],
    "food_snacks": [
        ("nuts", "坚果"),
        ("jerky", "牛肉干"),
        ("tea", "茶叶"),
        ("cookies", "饼干"),
        ("noodles", "螺蛳粉"),
    ],
    "fresh": [("fruit", "水果"), ("seafood", "海鲜"), ("beef", "牛排"), ("vegetables", "蔬菜")],
    "mother_baby": [
        ("diapers", "纸尿裤"),
        ("formula", "奶粉"),
        ("stroller", "婴儿推车"),
        ("toys", "益智玩具"),
    ],
    "home_living": [("bedding", "四件套"), ("storage", "收纳盒"), ("towel", "毛巾"), ("lamp", "台灯")],
    "appliances": [
        ("airfryer", "空气炸锅"),
        ("vacuum", "吸尘器"),
        ("fan", "电风扇"),
        ("ricecooker", "电饭煲"),
    ],
    "digital_3c": [
        ("earbuds", "蓝牙耳机"),
        ("charger", "快充充电器"),
        ("powerbank", "充电宝"),
        ("watch", "智能手表"),
    ],
    "jewelry_accessories": [
        ("necklace", "项链"),
        ("earrings", "耳环"),
        ("bracelet", "手链"),
        ("ring", "戒指"),
    ],
    "sports_outdoor": [
        ("yogamat", "瑜伽垫"),
        ("tent", "帐篷"),
        ("dumbbell", "哑铃"),
        ("runningwear", "运动套装"),
    ],
    "health_supplements": [
        ("vitamins", "维生素片"),
        ("probiotics", "益生菌"),
        ("protein", "蛋白粉"),
        ("fishoil", "鱼油"),
    ],
    "books_education": [
        ("novel", "小说"),
        ("kids_books", "儿童绘本"),
        ("textbook", "教辅"),
        ("notebook", "笔记本"),
    ],
}

STYLE_WORDS = [
    "简约",
    "法式",
    "复古",
    "国潮",
    "韩系",
    "运动",
    "轻奢",
    "可爱",
    "商务",
    "自然",
    "科技",
    "ins风",
]
STYLE_TAGS = [
    "minimal",
    "french",
    "vintage",
    "guochao",
    "korean",
    "sporty",
    "light_luxury",
    "cute",
    "business",
    "natural",
    "tech",
    "ins",
]
FUNCTION_WORDS = [
    "补水",
    "保湿",
    "修护",
    "美白",
    "防晒",
    "速干",
    "透气",
    "显瘦",
    "降噪",
    "长续航",
    "快充",
    "防水",
    "低糖",
    "高蛋白",
    "无添加",
    "抗菌",
    "耐磨",
    "轻便",
    "大容量",
    "静音",
]
FUNCTION_TAGS = [
    "hydrating",
    "moisturising",
    "repair",
    "brightening",
    "sunscreen",
    "quick_dry",
    "breathable",
    "slimming",
    "noise_cancelling",
    "long_battery",
    "fast_charge",
    "waterproof",
    "low_sugar",
    "high_protein",
    "no_additives",
    "antibacterial",
    "durable",
    "lightweight",
    "large_capacity",
    "quiet",
]
BRAND_CHARS = list("云青海星木山川月光禾安悦然素初知简雅美优佳品谷麦果仁森林夏秋春冬晨朗")
SHOP_SUFFIX = {
    "flagship": "官方旗舰店",
    "brand_authorized": "专卖店",
    "multi_brand": "专营店",
    "ordinary": "小店",
}
CREATOR_WORDS = list("小大阿老甜酷萌乐美帅")
CREATOR_TAILS = ["爱分享", "好物推荐", "的日常", "说好物", "生活记", "测评", "优选", "带你买"]

#: Violation kinds planted in titles, with the text inserted (ground truth for governance).
ABSOLUTE_TERMS = ["全网最低价", "最好用的", "国家级", "第一品牌", "顶级", "史上最强", "销量第一", "100%有效"]
COUNTERFEIT_MARKERS = ["高仿", "精仿", "A货", "原单", "1:1复刻"]
PROHIBITED_ITEMS = [
    ("电子烟", "vape"),
    ("处方药", "prescription_drug"),
    ("野生动物制品", "wildlife"),
    ("仿真枪", "replica_gun"),
]
DIVERSION_TERMS = ["加微信", "私聊下单", "VX咨询"]
#: Licences that legitimate sellers of restricted goods hold (category or leaf → qualification).
QUALIFICATIONS = {
    "health_supplements": "health_food_permit",
    "mother_baby>formula": "infant_formula_registration",
}
VIOLATION_KINDS = ("absolute_term", "counterfeit", "prohibited", "duplicate", "diversion")


def brand_name(rng: np.random.Generator) -> str:
    a, b = rng.choice(len(BRAND_CHARS), 2, replace=False)
    return BRAND_CHARS[a] + BRAND_CHARS[b]


def unique_names(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct brand names: two characters while they last, then three."""
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        size = 2 if len(seen) < len(BRAND_CHARS) * 8 else 3
        name = "".join(BRAND_CHARS[i] for i in rng.choice(len(BRAND_CHARS), size, replace=False))
        if name not in seen:
            seen.add(name)
            out.append(name)
    return out


def creator_name(rng: np.random.Generator, i: int) -> str:
    return (
        f"{CREATOR_WORDS[i % len(CREATOR_WORDS)]}{BRAND_CHARS[(i * 7) % len(BRAND_CHARS)]}"
        f"{CREATOR_TAILS[(i * 3) % len(CREATOR_TAILS)]}{i}"
    )
