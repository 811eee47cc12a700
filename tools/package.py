"""Finish the deployment zip ``chalice package`` wrote: trim Babel's locale data to Beacon's
languages, add every module's compiled bytecode, and ship site.yml parsed.

Babel ships CLDR data for about 1,150 locales (31 MB, 11 MB of the zip); Beacon formats dates
and numbers in the languages it has catalogues for (``chalicelib.i18n.CATALOGUES``) and
nothing else, so the zip keeps ``root.dat`` and each of those languages with its regional
variants (``de.dat``, ``de_AT.dat`` …).

``chalice package`` ships sources only, and Lambda unpacks the zip on a read-only file system,
so without bytecode every cold start compiles each module it imports (botocore
included) and cannot keep the result: the dev stage's API function took about 0.7 s to import
instead of 0.3 s. The zip gets ``__pycache__/<module>.cpython-3XY.pyc`` beside every ``.py``,
compiled by this interpreter (the one ``chalice package`` ran under, whose version Chalice
names as the functions' runtime) and hash-based without a source check: the zip never changes
after it is built, and Lambda's extraction keeps no usable modification times. A runtime of
another version ignores these files by their magic number and compiles as before.

Every function but SES feedback reads site.yml in its init. PyYAML's import alone (most of it
``yaml.reader``'s patterns) took 13-19 ms of each on the bench's VM. Each YAML file at the zip's
root (``vendor/`` links site.yml there) gets its parsed copy beside it, ``site.yml.json``
(``chalicelib.config.parsed_copy``): the mapping PyYAML read, as JSON, with the SHA-256 of the
bytes it was read from. ``load_site`` reads the copy with msgspec when it is of the very file it
was asked for, and validates it as it validates what PyYAML reads; any other file, or a copy of
another text, is parsed as before. A file JSON cannot give back exactly (a YAML date, a set, a
key that is not a string) ships without a copy.

Run by ``make package`` (and so ``make deploy``), the package test and the import bench, so
what they check and measure is what is deployed::

    python -m tools.package build/dev/deployment.zip
"""
from __future__ import annotations

import compileall
import os
import py_compile
import re
import sys
import tempfile
import zipfile
from pathlib import Path

from chalicelib.config import SiteConfigError, parsed_copy, parsed_copy_path
from chalicelib.i18n import CATALOGUES

_LOCALE_DATA = re.compile(r"^babel/locale-data/(?P<locale>[^/]+)\.dat$")
# Chalice dates every entry 1980-01-01 so that a build is reproducible; the bytecode is dated alike.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def kept(name: str, languages=CATALOGUES) -> bool:
    """Whether the zip keeps this entry: everything but the locale data of other languages."""
    match = _LOCALE_DATA.match(name)
    if match is None:
        return True
    locale = match.group("locale")
    return locale == "root" or locale.split("_")[0] in languages


def finish(path: Path) -> tuple[int, int]:
    """Rewrite the zip at ``path`` as it is deployed: without the locale data Beacon never reads,
    with every module compiled and the YAML files at its root parsed; (bytes before, after)."""
    before = path.stat().st_size
    finished = path.with_suffix(".finished.zip")
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(finished, "w", zipfile.ZIP_DEFLATED) as target:
        # Made first: writing an entry to the target moves its ZipInfo's offsets, which reads share.
        made = {**compiled(source), **parsed_copies(source)}
        for info in source.infolist():
            # Bytecode Chalice copied from a working tree is dated by its source and may be stale: replaced.
            if kept(info.filename) and not info.filename.endswith(".pyc") and info.filename not in made:
                target.writestr(info, source.read(info.filename), compress_type=info.compress_type)
        for name, data in made.items():
            entry = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
            entry.external_attr = 0o644 << 16
            target.writestr(entry, data, compress_type=zipfile.ZIP_DEFLATED)
    os.replace(finished, path)
    return before, path.stat().st_size


def compiled(source: zipfile.ZipFile) -> dict[str, bytes]:
    """The bytecode of every ``.py`` entry of the zip, by the entry name Python looks for it under."""
    modules = [name for name in source.namelist() if name.endswith(".py")]
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        for name in modules:
            source.extract(name, root)
        # A file that does not compile (none in today's zip) keeps no bytecode and compiles at import, as before.
        compileall.compile_dir(root, quiet=2, workers=0, stripdir=str(root), prependdir="/var/task",
                               invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        return {pyc.relative_to(root).as_posix(): pyc.read_bytes() for pyc in sorted(root.rglob("*.pyc"))}


def parsed_copies(source: zipfile.ZipFile) -> dict[str, bytes]:
    """The parsed copy of each YAML file at the zip's root that JSON holds exactly, by its entry name."""
    copies = {}
    for name in source.namelist():
        if "/" in name or not name.endswith((".yml", ".yaml")):
            continue
        try:
            copy = parsed_copy(source.read(name))
        except (SiteConfigError, UnicodeDecodeError):
            continue  # read, and refused with its line, where a function reads it (make package checks site.yml)
        if copy is not None:
            copies[parsed_copy_path(name).as_posix()] = copy
    return copies


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tools.package <deployment.zip>", file=sys.stderr)
        return 2
    before, after = finish(Path(argv[0]))
    with zipfile.ZipFile(argv[0]) as finished:
        parsed = sorted(name for name in finished.namelist()
                        if "/" not in name and name.endswith((".yml.json", ".yaml.json")))
    print(f"deployment zip: {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB (Babel's locale data for "
          f"{', '.join(CATALOGUES)} only; every module compiled for Python "
          f"{sys.version_info.major}.{sys.version_info.minor}; parsed: {', '.join(parsed) or 'nothing'})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
