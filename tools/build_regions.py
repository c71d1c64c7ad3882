"""Regenerate scraper/data/regions.csv from cpca's adcode table.

Provenance: the `cpca` package (MIT) ships `resources/adcodes.csv`, the
administrative-division codes published by the National Bureau of Statistics
of China (12-digit adcodes with names and centroids). We flatten it into one
row per province, prefecture and county-level division with its parent, so the
scraper needs no third-party package at run time. Run once after upgrading
cpca:  python tools/build_regions.py
"""

from __future__ import annotations

import csv
import importlib.resources
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "scraper" / "data" / "regions.csv"
MUNICIPALITIES = {"11", "12", "31", "50"}


def main() -> None:
    source = importlib.resources.files("cpca") / "resources" / "adcodes.csv"
    with source.open(encoding="utf-8") as fh:
        rows = {r["adcode"][:6]: r for r in csv.DictReader(fh)}
    out = []
    for code, row in sorted(rows.items()):
        name = row["name"]
        if code.endswith("0000"):
            level, parent = "province", ""
        elif code.endswith("00"):
            if code[:2] in MUNICIPALITIES:
                continue  # 市辖区/县 of a municipality: the municipality is its own city
            if name in ("市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"):
                continue
            level, parent = "city", code[:2] + "0000"
        else:
            if name == "市辖区":
                continue
            level = "district"
            city = code[:4] + "00"
            if code[:2] in MUNICIPALITIES:
                parent = code[:2] + "0000"
            elif city in rows and rows[city]["name"] not in ("省直辖县级行政区划", "自治区直辖县级行政区划"):
                parent = city
            else:
                parent = code[:2] + "0000"
        out.append([code, name, level, parent, row["longitude"], row["latitude"]])
    with OUT.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["adcode", "name", "level", "parent", "lon", "lat"])
        writer.writerows(out)
    print(f"wrote {len(out)} divisions to {OUT}")


if __name__ == "__main__":
    main()
