"""What the matching pipelines know about people, goods and places, computed from the catalogue and
the behaviour log: user profiles (interest, price band, brand, style, function, relations), product
statistics (trend, refund rate, carriers) and the features the learned ranker reads."""

from xingqu.features.market import MarketTables
from xingqu.features.profiles import Catalogue, ItemStats, UserProfiles, build_profiles

__all__ = ["Catalogue", "ItemStats", "MarketTables", "UserProfiles", "build_profiles"]
