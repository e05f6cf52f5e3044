"""Units shared by every layer: times are UTC milliseconds, money is integer fen."""

#: Milliseconds in a day.
DAY_MS = 86_400_000
#: Fen in a yuan.
FEN_PER_YUAN = 100
