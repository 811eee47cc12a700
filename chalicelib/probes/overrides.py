"""Probe target overrides: run the probes of site.yml against other targets, by configuration.

The local stack points ``PROBE_OVERRIDES`` at ``tools/local/demo-targets.yml``, which
maps every public target of site.yml to the demo upstream on 127.0.0.1 and allows private
targets; deployed stages leave the variable unset and probe the real targets. The app has
no local branch: it only reads the file it is given. Format::

    allow_private_targets: true          # optional, overrides probe_settings
    unmatched: refuse                    # refuse (default) or keep: probes no entry maps
    targets:                             # URL prefixes (http, upstream) or host:port (tcp, tls)
      "https://www.facebook.com/": "http://127.0.0.1:${DEMO_PORT}/facebook/"
      "smtp.lumencoffee.com:587": "127.0.0.1:${DEMO_PORT}"

``${NAME}`` takes the environment variable NAME. A refused probe is reported, not run.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

import msgspec

from chalicelib.probes.spec import ProbeSettings
from chalicelib.schema import Invalid, Strict, read


class OverridesError(ValueError):
    pass


class ProbeOverrides(Strict, kw_only=True):
    allow_private_targets: bool | None = None
    unmatched: Literal["refuse", "keep"] = "refuse"
    targets: dict[str, str] = msgspec.field(default_factory=dict)

    def settings(self, settings: ProbeSettings) -> ProbeSettings:
        if self.allow_private_targets is None:
            return settings
        return msgspec.structs.replace(settings, allow_private_targets=self.allow_private_targets)

    def rewrite(self, spec):
        """The spec pointed at its override target, or None when no entry maps it and unmatched is refuse."""
        kind = spec.kind
        if kind in ("http", "upstream"):
            for prefix in sorted(self.targets, key=len, reverse=True):
                if spec.url.startswith(prefix):
                    return msgspec.structs.replace(spec, url=self.targets[prefix] + spec.url[len(prefix):])
        elif kind in ("tcp", "tls"):
            mapped = self.targets.get(f"{spec.host}:{spec.port}")
            if mapped:
                host, _, port = mapped.rpartition(":")
                update = {"host": host, "port": int(port)}
                if kind == "tls":
                    update["server_name"] = spec.server_name or spec.host
                return msgspec.structs.replace(spec, **update)
        elif kind == "dns":
            mapped = self.targets.get(spec.name)
            if mapped:
                server, _, port = mapped.rpartition(":")
                return msgspec.structs.replace(spec, nameservers=(server,), port=int(port))
        else:  # heartbeats have no target
            return spec
        return spec if self.unmatched == "keep" else None


_VARIABLE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")


def load_overrides(path: Path | str | None, environ=os.environ) -> ProbeOverrides | None:
    if not path:
        return None
    import yaml  # only where a stage names a file: deployed stages probe their own targets

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise OverridesError(f"{path}: cannot read the file ({exc.strerror}); fix PROBE_OVERRIDES or unset it") from None

    def expand(match: re.Match) -> str:
        name = match.group(1)
        if name not in environ:
            raise OverridesError(f"{path}: uses ${{{name}}}, which is not set; set it or write the value")
        return environ[name]

    try:
        data = yaml.safe_load(_VARIABLE.sub(expand, text)) or {}
        return read(ProbeOverrides, data)
    except yaml.YAMLError as exc:
        raise OverridesError(f"{path}: YAML: {exc}") from None
    except Invalid as exc:
        raise OverridesError(f"{path}: {exc}") from None
