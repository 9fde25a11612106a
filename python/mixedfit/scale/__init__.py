"""Beyond one fit: many responses with one design (fit_many)."""
