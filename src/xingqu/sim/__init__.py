"""The marketplace simulator: a seeded world with ground truth, its behaviour, and closed-loop A/B runs."""
