"""Split a site's probes across invocations when one invocation cannot run them all.

Up to ``probe_settings.probes_per_invocation`` probes run in the scheduled function
itself. Above that, the scheduled function only plans: it cuts the components into
shards of at most that many probes (a component's probes stay together, since its
status combines them) and sends one message per shard to the probe shard queue, where
parallel invocations of ``probe_shard`` each run the cycle for their components.
Shards are cut the same way every minute, so each shard keeps its own cycle lock.
"""
from __future__ import annotations

import json

from chalicelib.config import Component, Site


def shard_components(site: Site, limit: int) -> list[list[Component]]:
    """Components in site order, cut so that no shard holds more than ``limit`` probes
    (a component with more probes than that is a shard of its own)."""
    shards: list[list[Component]] = [[]]
    count = 0
    for component in site.components:
        size = len([p for p in component.probes if not p.paused])
        if size == 0:
            continue
        if shards[-1] and count + size > limit:
            shards.append([])
            count = 0
        shards[-1].append(component)
        count += size
    return [shard for shard in shards if shard]


def shard_message(cycle_id: str, index: int, components: list[Component]) -> str:
    return json.dumps({"type": "probe_shard", "cycle_id": cycle_id, "shard": f"shard-{index}",
                       "components": [c.id for c in components]})


def parse_shard_message(body: str) -> tuple[str, frozenset[str]]:
    message = json.loads(body)
    if message.get("type") != "probe_shard":
        raise ValueError(f"not a probe shard message: {body[:200]}")
    return message["shard"], frozenset(message["components"])
