"""Trim the deployment zip ``chalice package`` wrote: Babel's locale data for Beacon's languages only.

Babel ships CLDR data for about 1,150 locales (31 MB, 11 MB of the zip); Beacon formats dates
and numbers in the languages it has catalogues for (``chalicelib.i18n.CATALOGUES``) and
nothing else, so the zip keeps ``root.dat`` and each of those languages with its regional
variants (``de.dat``, ``de_AT.dat`` …). Run by ``make package`` (and so ``make deploy``), the
package test and the import bench, so what they check and measure is what is deployed::

    python -m tools.package build/dev/deployment.zip
"""
from __future__ import annotations

import os
import re
import sys
import zipfile
from pathlib import Path

from chalicelib.i18n import CATALOGUES

_LOCALE_DATA = re.compile(r"^babel/locale-data/(?P<locale>[^/]+)\.dat$")


def kept(name: str, languages=CATALOGUES) -> bool:
    """Whether the zip keeps this entry: everything but the locale data of other languages."""
    match = _LOCALE_DATA.match(name)
    if match is None:
        return True
    locale = match.group("locale")
    return locale == "root" or locale.split("_")[0] in languages


def trim(path: Path) -> tuple[int, int]:
    """Rewrite the zip at ``path`` without the locale data Beacon never reads; (bytes before, after)."""
    before = path.stat().st_size
    trimmed = path.with_suffix(".trimmed.zip")
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(trimmed, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if kept(info.filename):
                target.writestr(info, source.read(info.filename), compress_type=info.compress_type)
    os.replace(trimmed, path)
    return before, path.stat().st_size


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tools.package <deployment.zip>", file=sys.stderr)
        return 2
    before, after = trim(Path(argv[0]))
    print(f"deployment zip: {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB (Babel's locale data for "
          f"{', '.join(CATALOGUES)} only)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
