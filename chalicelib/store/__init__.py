"""DynamoDB persistence: the only code that knows the table layout.

One table (``TABLE_NAME``), partition key ``pk`` and sort key ``sk``, both strings.
Every item also carries ``data`` (the record as JSON text) and ``version`` (a number
that each write raises by one); ephemeral items carry ``expires_at`` (epoch seconds,
the table's TTL attribute). Records that two writers may touch are written with a
condition on ``version``: a conflicting write raises ``Conflict`` and changes nothing.

| pk                      | sk                       | record                                   | TTL |
|-------------------------|--------------------------|------------------------------------------|-----|
| ``COMPONENT``           | ``<component id>``       | ``model.ComponentState``                 | no  |
| ``INCIDENT``            | ``<incident id>``        | ``model.Incident`` (incl. maintenance)   | no  |
| ``NOTICE``              | ``<notice id>``          | ``model.Notice``                         | no  |
| ``SITE``                | ``published``            | manifest of the objects last published   | no  |

Ids are time-sortable (``model.new_id``), so a query of one partition lists records
oldest first, newest first with ``descending=True``. Each capability that adds a kind of
record adds its row here and a small store class beside ``table.Table``.
"""
from chalicelib.store.table import AlreadyExists, Conflict, Item, Page, Table

__all__ = ["AlreadyExists", "Conflict", "Item", "Page", "Table"]
