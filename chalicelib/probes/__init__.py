"""Probes: scheduled checks of the brand's channels and of the platforms' own status.

``spec`` (what site.yml declares) ▶ ``guard`` (which addresses a probe may reach) ▶
``checks`` (one check per kind) ▶ ``runner`` (all of them at once, under a deadline) ▶
``rules`` (thresholds, probes ▶ component status, cause) ▶ ``cycle`` (state, incidents,
history, publish). ``model`` holds the data types they pass (planned probe, result,
heartbeat calls), so the pure modules and the store need not import the checks' network
code. ``overrides`` points the probes elsewhere by configuration (the local demo upstream);
``service`` builds a cycle for the app; ``heartbeats`` makes, rotates and checks heartbeat
secrets (stored hashed). The API (run a cycle now, read the last one, receive heartbeats,
manage their secrets) is ``chalicelib/api/probes.py``.
"""
