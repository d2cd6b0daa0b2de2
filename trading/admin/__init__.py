"""Staff review in the Django admin: whale decisions (with their whale, order and
fills, a "mark reviewed" action with a note, CSV export of the filtered list),
and read-only pages for whales, orders, fills, positions, the risk account,
state transitions and activity. The admin site admits staff only.

Records here are an audit trail: nothing can be added or deleted, and a
decision's fields are read-only; only its review can be written.
"""

from trading.admin import decisions, records

__all__ = ["decisions", "records"]
