"""DynamoDB persistence: the only code that knows the table layout.

One table (``TABLE_NAME``), partition key ``pk`` and sort key ``sk``, both strings.
Every item also carries ``data`` (the record as JSON text) and ``version`` (a number
that each write raises by one); ephemeral items carry ``expires_at`` (epoch seconds,
the table's TTL attribute); an item made of several carries ``children`` (the sort keys
of its parts, written with it). The table has no secondary index: what the page and the
writers read, they read by key (GetItem, BatchGetItem), the keys coming from the site's
configuration, the day or slot wanted, or a membership item (``LISTED``, see ``incidents``).
Headers written while the table had indexes still carry ``front``/``front_at``/``month``/
``month_at``: ignored, and dropped at their next save. Records that two writers may touch are
written with a condition on ``version``: a conflicting write raises ``Conflict`` and changes nothing.

| pk                      | sk                       | record                                   | TTL |
|-------------------------|--------------------------|------------------------------------------|-----|
| ``COMPONENT``           | ``<component id>``       | ``model.ComponentState``                 | no  |
| ``INCIDENT``            | ``<incident id>``        | ``model.Incident`` (incl. maintenance), its updates inline while small, else ``children`` lists its update items (``incidents``) | no  |
| ``INCIDENT``            | ``<incident id>#<update id>#<digest>`` | ``model.IncidentUpdate``: one item per update and revision, read only if its incident lists it | no  |
| ``NOTICE``              | ``<notice id>``          | ``model.Notice``                         | no  |
| ``LISTED``              | ``front``                | string set ``ids``: the incidents open or changed in the last 90 days, and some that aged out since (each save adds; a publish takes out, conditionally on ``version``); ~20,000 ids fit in 400 KB (``incidents``) | no |
| ``LISTED``              | ``month#<YYYY-MM>``      | string set ``ids``: the incidents that started in that UTC month (and any that moved out since, taken out by the next reader); ~20,000 a month (``incidents``) | no |
| ``LISTED``              | ``notices``              | string set ``ids``: every notice not deleted; ~20,000 (``incidents``) | no |
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
| ``HISTORY#<component>`` | ``<YYYY-MM>``            | per day ``dDD_``: counters + latency histogram, ~10 KB (``history``); tables written before hold ``<YYYY-MM-DD>`` items too | 100 d past the month |
| ``LATENCY#<component>`` | ``<YYYY-MM-DDTHH>``      | per 5-minute slot ``mMM_``: counters, latency sum and count, ~1 KB (``history``); formerly ``<YYYY-MM-DDTHH:MM>`` items | 25 h past the hour |
| ``SITE``                | ``published``            | manifest head: ``since`` (first publish), ``children`` naming its parts (``site.publish``) | no  |
| ``SITE``                | ``published#<id>``       | a manifest part: object key → digest, ~200 KB at most, never overwritten (``site.publish``) | no  |
| ``SITE``                | ``publishing``           | the publishing turn: its holder; its version counts publishes asked for meanwhile, ``changes`` (a string set) what they changed (``site.service``) | yes |
| ``SITE``                | ``incidents-indexed``    | of the former indexes' backfill; no longer read | no |
| ``SITE``                | ``incidents-listed``     | written once the ``LISTED`` items hold every incident and notice; until then publishes render everything and writers read every incident; ``at``: when; ``history_before``: the same if the history then held days in its former layout, else null (``incidents.LISTED_MARK``, ``site.service``, ``history``) | no |

Counter items (history, rate limits) keep plain number attributes beside ``data`` and
are written with ``Table.add`` (DynamoDB ``ADD``), so any number of writers aggregate in
place without reading first; ``Item.data`` shows those attributes too.

Ids are time-sortable (``model.new_id``), so a query of one partition lists records
oldest first, newest first with ``descending=True``: the API's listings and a publish of
everything query; a write and the publish after it do not. Each capability that adds a kind of
record adds its row here and a small store class beside ``table.Table``.
"""
from chalicelib.store.table import AlreadyExists, Conflict, Item, Page, Table

__all__ = ["AlreadyExists", "Conflict", "Item", "Page", "Table"]
