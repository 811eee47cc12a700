"""Probes: scheduled checks of the brand's channels and of the platforms' own status.

``spec`` (what site.yml declares) ▶ ``guard`` (which addresses a probe may reach) ▶
``checks`` (one check per kind) ▶ ``runner`` (all of them at once, under a deadline) ▶
``rules`` (thresholds, probes ▶ component status, cause) ▶ ``cycle`` (state, incidents,
history, publish). ``overrides`` points the probes elsewhere by configuration (the local
demo upstream); ``service`` builds a cycle for the app; ``heartbeats`` makes, rotates and
checks heartbeat secrets (stored hashed); ``routes`` holds the API: run a cycle now, read
the last one, receive heartbeats, manage their secrets.
"""
