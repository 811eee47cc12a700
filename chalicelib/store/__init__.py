"""DynamoDB persistence: the only code that knows the table layout.

One table (``TABLE_NAME``), partition key ``pk`` and sort key ``sk``, both strings.
Every item also carries ``data`` (the record as JSON text) and ``version`` (a number
that each write raises by one); ephemeral items carry ``expires_at`` (epoch seconds,
the table's TTL attribute); an item made of several carries ``children`` (the sort keys
of its parts, written with it). Incident headers also carry the keys of the table's two
sparse secondary indexes (``table.INDEXES``): ``front``/``front_at`` and ``month``/``month_at``
(see ``incidents``). Records that two writers may touch are written with a
condition on ``version``: a conflicting write raises ``Conflict`` and changes nothing.

| pk                      | sk                       | record                                   | TTL |
|-------------------------|--------------------------|------------------------------------------|-----|
| ``COMPONENT``           | ``<component id>``       | ``model.ComponentState``                 | no  |
| ``INCIDENT``            | ``<incident id>``        | ``model.Incident`` (incl. maintenance) without its updates; ``children`` lists its update items; index keys ``front`` (``INCIDENT``), ``front_at`` (``~<id>`` while open, else ``<updated_at>#<id>``), ``month`` (UTC month of its start), ``month_at`` (``<start>#<id>``) (``incidents``) | no  |
| ``INCIDENT``            | ``<incident id>#<update id>#<digest>`` | ``model.IncidentUpdate``: one item per update and revision, read only if its incident lists it | no  |
| ``NOTICE``              | ``<notice id>``          | ``model.Notice``                         | no  |
| ``NOTIFICATION``        | ``<notification id>``    | ``model.NotificationEvent`` (``notifications``) | no  |
| ``SUBSCRIBER``          | ``<subscriber id>``      | ``notify.model.Subscriber`` (email, SMS or webhook; ``subscribers``) | no |
| ``SUBSCRIBER_DESTINATION`` | ``<channel>:<address>`` | ``subscriber_id``: one subscriber per address, created conditionally | no |
| ``SUBSCRIBER_COUNTS``   | ``all``                  | counters ``<channel>_<status>``, moved on every status change; ``signups`` received | no |
| ``OPTIN``               | ``<opt-in id>``          | ``notify.model.OptIn``: hashed link token / SMS code; ``attempts``, a counter raised by one conditional update per code try | 7 d / 24 h |
| ``RATE#<hash of key>``  | ``<window start epoch>`` | sign-up counter ``n`` per source address, destination (its variants as one) or SMS ceiling (page, country code); wrong heartbeat secrets per source address (``windows``) | window |
| ``BOUNCE#<hash of address>`` | ``<YYYY-MM-DD>``    | transient bounce counter                 | 30 d |
| ``DELIVERY#<notification>`` | ``<subscriber id>``  | claim: ``state`` sending/sent/failed/suppressed, ``at``, provider id | 14 d |
| ``FANOUT``              | ``<notification id>``    | fan-out done: ``queued`` per channel, batches | no |
| ``NOTIFICATION_STATS``  | ``<notification id>``    | counters ``<channel>_<sent/failed/suppressed>`` | no |
| ``KEY``                 | ``<SHA-256 of the key>`` | ``keys.ApiKey`` (id, name, scope, revoked_at); never the key | no  |
| ``HEARTBEAT``           | ``<component>/<probe>``  | the job's last call: ``last_seen``, ``failed``, runs in a row ``failed_runs`` / ``ok_runs`` (``probes``) | no |
| ``HEARTBEAT_SECRET``    | ``<component>/<probe>``  | ``probes.heartbeats.HeartbeatSecret``: SHA-256 of the secret, and of the previous one until ``previous_until``; never the secret | no |
| ``AUDIT``               | ``<entry id>``           | ``audit.AuditEntry`` (actor, action, target, summary) | 365 d |
| ``HISTORY#<component>`` | ``<YYYY-MM-DD>``         | day counters + latency histogram (``history``) | 100 d |
| ``LATENCY#<component>`` | ``<YYYY-MM-DDTHH:MM>``   | 5-minute latency sum and count (``history``)   | 25 h  |
| ``SITE``                | ``published``            | manifest head: ``since`` (first publish), ``children`` naming its parts (``site.publish``) | no  |
| ``SITE``                | ``published#<id>``       | a manifest part: object key → digest, ~200 KB at most, never overwritten (``site.publish``) | no  |
| ``SITE``                | ``publishing``           | the publishing turn: its holder; its version counts publishes asked for meanwhile, ``changes`` (a string set) what they changed (``site.service``) | yes |
| ``SITE``                | ``incidents-indexed``    | written once every incident header has its index keys; until then publishes render everything (``site.service``) | no |

Counter items (history, rate limits) keep plain number attributes beside ``data`` and
are written with ``Table.add`` (DynamoDB ``ADD``), so any number of writers aggregate in
place without reading first; ``Item.data`` shows those attributes too.

Ids are time-sortable (``model.new_id``), so a query of one partition lists records
oldest first, newest first with ``descending=True``. Each capability that adds a kind of
record adds its row here and a small store class beside ``table.Table``.
"""
from chalicelib.store.table import AlreadyExists, Conflict, Item, Page, Table

__all__ = ["AlreadyExists", "Conflict", "Item", "Page", "Table"]
