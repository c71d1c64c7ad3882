"""Regenerate scraper/data/slugs.json: the URL slugs of every division of the gazetteer,
every bank of the registry and every known programme.

    python tools/build_slugs.py

Run it after changing regions.csv, regions_extra.csv, banks.yaml or programs.yaml. A slug
in the table is the URL of a published page: an existing one should not change (the
test `test_shipped_slug_table_is_current` says when the table and the data disagree).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def build_table() -> dict:
    from casebook.data import load_data
    from casebook.settings import load
    from plugins.casebook_site.generator import compute_region_slugs, transliterate

    data = load_data(load().data_dir)
    names = {bank["name"] for bank in data.banks["banks"]} | set(data.programs.get("known", []))
    return {
        "about": "made by tools/build_slugs.py from the gazetteer, banks.yaml and programs.yaml; do not edit",
        "regions": compute_region_slugs(data),
        "names": {name: transliterate(name) for name in sorted(names)},
    }


def main() -> None:
    from casebook.files import atomic_write
    from casebook.settings import load
    from plugins.casebook_site.generator import SLUG_TABLE

    target = load().data_dir / SLUG_TABLE
    atomic_write(target, json.dumps(build_table(), ensure_ascii=False, indent=0, sort_keys=True) + "\n")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
