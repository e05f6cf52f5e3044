"""Retrieval models: each with one typed config, ``fit`` apart from ``recommend``, saved as JSON + .npz."""

from xingqu.models.base import REGISTRY, ModelError, Recommender, top_n
from xingqu.models.blend import Blend
from xingqu.models.content import ContentModel
from xingqu.models.ease import EASE
from xingqu.models.factors import ALS, BPR
from xingqu.models.itemknn import ItemKNN
from xingqu.models.popular import MostPopular
from xingqu.models.recentknn import RecentItemKNN
from xingqu.models.rp3 import RP3Beta
from xingqu.models.sasrec import SASRec
from xingqu.models.transition import Transitions
from xingqu.models.trending import Trending

__all__ = [
    "ALS",
    "BPR",
    "EASE",
    "REGISTRY",
    "Blend",
    "ContentModel",
    "ItemKNN",
    "ModelError",
    "MostPopular",
    "RP3Beta",
    "RecentItemKNN",
    "Recommender",
    "SASRec",
    "Transitions",
    "Trending",
    "top_n",
]
