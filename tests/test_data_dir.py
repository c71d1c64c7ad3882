"""`settings.data_dir` (CASEBOOK_DATA_DIR) is the registry every command reads: a copy of
scraper/data with one more bank makes a story about that bank a case in `casebook ingest`
and its case file clean in `casebook check`; the default folder knows neither."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

BANK = "星河社区银行"
STORY = f"""{BANK}客户经理上门为社区老人办理业务

2023年5月6日，{BANK}成华支行的客户经理走进成都市成华区幸福社区，为行动不便的老年人上门办理社保卡激活业务。

社区居民王阿姨说，以前办业务要去网点排队，现在银行把服务送到了家门口。{BANK}还在社区开设了金融服务站，帮助居民识别电信诈骗。

该行负责人表示，下一步将在更多社区设立服务点，让居民在家门口享受便捷的金融服务。
"""


@pytest.fixture(scope="module")
def data_copy(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("registry") / "data"
    shutil.copytree(ROOT / "scraper" / "data", folder)
    with (folder / "banks.yaml").open("a", encoding="utf-8") as registry:
        registry.write(f"  - {{name: {BANK}, type: private, aliases: [星河银行]}}\n")
    return folder


def _casebook(*args: str, data_dir: Path | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CASEBOOK_DATA_DIR"}
    if data_dir:
        env["CASEBOOK_DATA_DIR"] = str(data_dir)
    return subprocess.run([sys.executable, "-m", "casebook.app.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def _ingest(tmp_path: Path, data_dir: Path | None) -> tuple[dict, Path]:
    raw, cases, report = tmp_path / "raw", tmp_path / "cases", tmp_path / "report.jsonl"
    raw.mkdir(parents=True, exist_ok=True)
    (raw / "story.txt").write_text(STORY, encoding="utf-8")
    done = _casebook("ingest", str(raw), "--out", str(cases), "--report", str(report), "--quiet", data_dir=data_dir)
    assert done.returncode == 0, done.stderr
    (row,) = [json.loads(line) for line in report.read_text(encoding="utf-8").splitlines()]
    return row, cases


def test_ingest_reads_the_registry_of_data_dir(tmp_path, data_copy):
    row, _ = _ingest(tmp_path / "default", None)
    assert row["status"] == "irrelevant" and "names no bank" in row["reason"]
    row, cases = _ingest(tmp_path / "copy", data_copy)
    assert row["status"] == "written", row
    assert f"banks: [{BANK}]" in Path(row["output"]).read_text(encoding="utf-8")
    assert [p.name for p in cases.glob("*.md")] == [Path(row["output"]).name]


def test_check_reads_the_registry_of_data_dir(tmp_path, data_copy):
    _, cases = _ingest(tmp_path, data_copy)
    unknown = f"unknown bank '{BANK}'"
    default = _casebook("check", str(cases), data_dir=None)
    assert unknown in default.stdout, default.stdout
    copy = _casebook("check", str(cases), data_dir=data_copy)
    assert copy.returncode == 0 and unknown not in copy.stdout, copy.stdout
    assert "0 error(s), 0 warning(s)" in copy.stderr


def test_a_data_dir_without_the_registry_is_refused(tmp_path):
    done = _casebook("check", str(tmp_path), data_dir=tmp_path)
    assert done.returncode == 1 and "holds no taxonomy.yaml" in done.stderr
