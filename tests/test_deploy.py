"""deploy/ for real: Debian's nginx with the rendered deploy/nginx configuration, in front of
`casebook serve` started with the rendered systemd unit's own command line, over the built
sample site; every check goes through nginx. The unit itself is checked by systemd-analyze."""

from __future__ import annotations

import gzip
import http.client
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from deploy.render import RenderError, render, render_all
from search.service import SECURITY_HEADERS
from tests.conftest import ROOT, free_port

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
CASEBOOK = Path(sys.executable).with_name("casebook")
QUERY = quote("社区")


def _unit_lines(unit: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in unit.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key, []).append(value)
    return found


def _wait_for(port: int, process: subprocess.Popen, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/api/health")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    process.kill()
    detail = log.read_text(encoding="utf-8", errors="replace")[-2000:] if log and log.exists() else ""
    raise RuntimeError(f"{what} did not answer on port {port} (exit {process.poll()}): {detail}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def deployed(built_site, tmp_path_factory):  # type: ignore[no-untyped-def]
    """nginx on a free port in front of `casebook serve --workers 2` on another."""
    if not Path(NGINX).exists():
        pytest.fail("Debian's nginx is not installed: run tools/install-system-deps.sh (make test does)")
    root = tmp_path_factory.mktemp("deploy")
    # A copy of the site of its own, so that the dot files planted here reach no other test.
    site = root / "site"
    shutil.copytree(built_site["output"], site)
    (site / ".casebook").mkdir(exist_ok=True)   # the build keeps its record there
    (site / ".casebook" / "state.json").write_text('{"secret": "CACHE-SECRET"}', encoding="utf-8")
    (site / "cases" / ".draft.md.swp").write_text("SWAP-SECRET", encoding="utf-8")
    index = root / "index"
    shutil.copytree(built_site["index"], index)
    nginx_port, service_port = free_port(), free_port()
    conf, prefix = root / "conf", root / "prefix"
    render_all(conf, site_root=site, index_dir=index, listen=f"127.0.0.1:{nginx_port}",
               server_name="localhost", upstream_port=service_port, workers=2, casebook=CASEBOOK, prefix=prefix)

    # The service exactly as the unit starts it: its command line, environment and folder.
    unit = _unit_lines(conf / "casebook.service")
    environment = dict(pair.split("=", 1) for pair in shlex.split(unit["Environment"][0]))
    service = subprocess.Popen(shlex.split(unit["ExecStart"][0]), cwd=unit["WorkingDirectory"][0],
                               env={**os.environ, **environment}, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    nginx = None
    try:
        _wait_for(service_port, service, "casebook serve")
        # As root, nginx's workers would run as nobody, who cannot read pytest's 0700 folders.
        directives = "daemon off;" + (" user root;" if os.geteuid() == 0 else "")
        nginx = subprocess.Popen([NGINX, "-p", str(prefix), "-c", str(conf / "nginx.conf"),
                                  "-e", str(prefix / "error.log"), "-g", directives],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for(nginx_port, nginx, "nginx", prefix / "error.log")
        yield {"port": nginx_port, "site": site, "index": index, "conf": conf, "prefix": prefix,
               "content": built_site["content"], "root": root, "service": service}
    finally:
        if nginx is not None:
            _stop(nginx)
        _stop(service)


def get(deployed, path: str, *, method: str = "GET", headers: dict | None = None):  # type: ignore[no-untyped-def]
    """(status, headers as (name, value) pairs, raw body): http.client decodes nothing."""
    connection = http.client.HTTPConnection("127.0.0.1", deployed["port"], timeout=30)
    try:
        connection.request(method, path, headers={"Accept-Encoding": "identity", **(headers or {})})
        response = connection.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        connection.close()


def header(headers, name: str) -> str | None:  # type: ignore[no-untyped-def]
    values = [v for n, v in headers if n.lower() == name.lower()]
    assert len(values) <= 1, (name, values)
    return values[0] if values else None


def _first(site: Path, pattern: str) -> str:
    found = sorted(site.glob(pattern))
    assert found, pattern
    return "/" + found[0].relative_to(site).parent.as_posix() + "/"


# --- static files ----------------------------------------------------------------------------

def test_pages_feeds_and_datasets_are_the_built_files(deployed):
    site = deployed["site"]
    kinds = {"/": ("index.html", "text/html"),
             _first(site, "cases/*/index.html"): (None, "text/html"),
             _first(site, "categories/*/index.html"): (None, "text/html"),
             "/feeds/all.atom.xml": ("feeds/all.atom.xml", "xml"),
             "/sitemap.xml": ("sitemap.xml", "xml"),
             "/data/cases.json": ("data/cases.json", "application/json"),
             "/data/cases.csv": ("data/cases.csv", "text/csv"),
             "/theme/css/style.css": ("theme/css/style.css", "text/css"),
             "/theme/js/search.js": ("theme/js/search.js", "javascript")}
    if (site / "robots.txt").exists():
        kinds["/robots.txt"] = ("robots.txt", "text/plain")
    for path, (name, kind) in kinds.items():
        status, headers, body = get(deployed, path)
        assert status == 200, path
        assert body == (site / (name or path.strip("/") + "/index.html")).read_bytes(), path
        assert kind in header(headers, "Content-Type"), (path, header(headers, "Content-Type"))
        assert header(headers, "Content-Encoding") is None, path


def test_a_folder_without_its_slash_is_redirected_on_the_same_host(deployed):
    case = _first(deployed["site"], "cases/*/index.html")
    status, headers, _ = get(deployed, case.rstrip("/"))
    assert status == 301 and header(headers, "Location") == case


def test_gzip_clients_get_the_builds_gz_file_itself(deployed):
    site = deployed["site"]
    for path, name in (("/", "index.html"), ("/feeds/all.atom.xml", "feeds/all.atom.xml"),
                       ("/data/cases.json", "data/cases.json"), ("/theme/css/style.css", "theme/css/style.css")):
        status, headers, body = get(deployed, path, headers={"Accept-Encoding": "gzip, deflate, br"})
        assert status == 200 and header(headers, "Content-Encoding") == "gzip", path
        # Byte for byte the .gz the build wrote (nginx's own gzip would differ), which
        # inflates to the page served to clients without gzip.
        assert body == (site / f"{name}.gz").read_bytes(), path
        assert gzip.decompress(body) == (site / name).read_bytes() == get(deployed, path)[2], path
        assert header(headers, "Vary") == "Accept-Encoding", path
        assert int(header(headers, "Content-Length") or -1) == len(body), path


def test_pages_carry_validators_and_a_short_lifetime(deployed):
    for path in ("/", "/feeds/all.atom.xml", "/theme/css/style.css", "/data/cases.csv"):
        status, headers, _ = get(deployed, path)
        assert status == 200 and header(headers, "Cache-Control") == "public, max-age=300", path
        etag, modified = header(headers, "ETag"), header(headers, "Last-Modified")
        assert etag and modified, path
        assert get(deployed, path, headers={"If-None-Match": etag})[0] == 304, path
        assert get(deployed, path, headers={"If-Modified-Since": modified})[0] == 304, path


def test_a_missing_page_is_the_chinese_404_page_with_status_404(deployed):
    page = deployed["site"] / "404.html"
    assert page.exists(), "the build writes no 404.html"
    for path in ("/no/such/page/", "/cases/no-such-case/", "/404.html", "/theme/", "/feeds/"):
        status, headers, body = get(deployed, path)
        assert status == 404, path
        assert body == page.read_bytes(), path
        assert "页面不存在" in body.decode("utf-8") and 'lang="zh' in body.decode("utf-8"), path
        assert header(headers, "Cache-Control") == "no-cache", path


def test_dot_paths_are_never_served(deployed):
    for path in ("/.casebook/state.json", "/cases/.draft.md.swp", "/.casebook/", "/data/.hidden.json"):
        status, _, body = get(deployed, path)
        assert status == 404, path
        assert b"SECRET" not in body and "页面不存在" in body.decode("utf-8"), path


# --- the proxied service ---------------------------------------------------------------------

def test_api_search_reaches_the_service_through_nginx(deployed):
    status, headers, body = get(deployed, f"/api/search?q={QUERY}&limit=3")
    assert status == 200 and "application/json" in header(headers, "Content-Type")
    result = json.loads(body)
    assert result["query"] == "社区" and result["total"] >= 1 and result["results"]
    assert header(headers, "Cache-Control") == "no-store"
    # The answer comes from the service over this very index: it names the generation in CURRENT.
    status, _, body = get(deployed, "/api/health")
    current = (deployed["index"] / "CURRENT").read_text(encoding="utf-8").strip()
    assert status == 200 and json.loads(body)["index"] == current


def test_api_errors_pass_through_as_json(deployed):
    status, _, body = get(deployed, "/api/search?bogus=1")
    assert status == 400 and "bogus" in json.loads(body)["error"]
    status, _, body = get(deployed, "/api/no-such-endpoint")
    assert status == 404 and "error" in json.loads(body)


def test_export_csv_through_nginx(deployed):
    total = json.loads(get(deployed, f"/api/search?q={QUERY}")[2])["total"]
    status, headers, body = get(deployed, f"/api/export?q={QUERY}&format=csv")
    assert status == 200 and header(headers, "Content-Type").startswith("text/csv")
    assert "attachment" in header(headers, "Content-Disposition")
    rows = body.decode("utf-8-sig").strip().splitlines()
    assert len(rows) == total + 1
    # Compressed on the fly for clients that accept it.
    status, headers, packed = get(deployed, f"/api/export?q={QUERY}&format=csv", headers={"Accept-Encoding": "gzip"})
    assert status == 200 and header(headers, "Content-Encoding") == "gzip" and gzip.decompress(packed) == body


def test_the_search_page_is_rendered_by_the_service(deployed):
    status, headers, body = get(deployed, f"/search/?q={QUERY}")
    text = body.decode("utf-8")
    assert status == 200 and "text/html" in header(headers, "Content-Type")
    slug = json.loads(get(deployed, f"/api/search?q={QUERY}&limit=1")[2])["results"][0]["slug"]
    assert slug in text, "the search page through nginx shows no results: it is not the service's"
    status, headers, _ = get(deployed, f"/search?q={QUERY}")
    assert status == 308 and header(headers, "Location") == f"/search/?q={QUERY}"


def test_only_get_reaches_the_service(deployed):
    for method in ("POST", "DELETE"):
        status, _, _ = get(deployed, f"/api/search?q={QUERY}", method=method)
        assert status == 403, method


def test_a_flood_of_api_requests_is_cut_off_with_429(deployed):
    answers = [get(deployed, "/api/health") for _ in range(80)]
    assert answers[0][0] == 200
    refused = [headers for status, headers, _ in answers if status == 429]
    assert refused, "80 requests at once and not one refused"
    for name, value in SECURITY_HEADERS:
        assert header(refused[0], name.decode()) == value.decode()
    time.sleep(5)   # the bucket drains at 10 a second, for the tests after this one
    assert get(deployed, "/api/health")[0] == 200
    assert get(deployed, "/")[0] == 200    # static files are not limited


# --- headers on every kind of response ---------------------------------------------------------

def test_security_headers_once_on_static_proxied_and_error_responses(deployed):
    expected = {name.decode(): value.decode() for name, value in SECURITY_HEADERS}
    paths = ["/", "/theme/css/style.css", "/feeds/all.atom.xml", f"/api/search?q={QUERY}", "/api/health",
             f"/search/?q={QUERY}", "/api/search?bogus=1", "/no/such/page/", "/.casebook/state.json"]
    for path in paths:
        status, headers, _ = get(deployed, path)
        for name, value in expected.items():
            assert header(headers, name) == value, (path, status, name)
    status, headers, _ = get(deployed, "/api/search", method="POST")
    assert status == 403 and all(header(headers, n) == v for n, v in expected.items())


def test_nginx_says_nothing_about_itself_and_logs_inside_its_prefix(deployed):
    _, headers, _ = get(deployed, "/")
    assert header(headers, "Server") == "nginx"
    assert (deployed["prefix"] / "access.log").stat().st_size > 0


# --- the configuration files ---------------------------------------------------------------------

def test_the_rendered_nginx_configuration_passes_nginx_t(deployed):
    run = subprocess.run([NGINX, "-t", "-p", str(deployed["prefix"]), "-c", str(deployed["conf"] / "nginx.conf"),
                          "-e", str(deployed["prefix"] / "error.log")], capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    assert "[warn]" not in run.stderr and "[emerg]" not in run.stderr, run.stderr


def test_the_unit_passes_systemd_analyze_verify(tmp_path):
    if not Path(SYSTEMD_ANALYZE).exists():
        pytest.fail("systemd-analyze is not installed: run tools/install-system-deps.sh (Debian's systemd)")
    assert CASEBOOK.exists(), "the casebook command is not installed beside this python"
    site, index = tmp_path / "srv" / "output", tmp_path / "srv" / "index"
    render_all(tmp_path / "conf", site_root=site, index_dir=index, upstream_port=8123, workers=3, casebook=CASEBOOK)
    unit = tmp_path / "conf" / "casebook.service"
    run = subprocess.run([SYSTEMD_ANALYZE, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    # verify exits 0 on unknown keys and bad values and only says so on stderr.
    assert run.returncode == 0 and not run.stderr.strip(), run.stderr
    lines = _unit_lines(unit)
    command = shlex.split(lines["ExecStart"][0])
    assert command[:2] == [str(CASEBOOK), "serve"] and "--workers" in command and command[command.index("--workers") + 1] == "3"
    assert command[command.index("--host") + 1] == "127.0.0.1" and command[command.index("--port") + 1] == "8123"
    for key, value in {"DynamicUser": "yes", "ProtectSystem": "strict", "NoNewPrivileges": "yes",
                       "PrivateTmp": "yes", "ProtectHome": "yes", "Restart": "on-failure"}.items():
        assert lines.get(key) == [value], key
    assert {str(site.resolve()), str(index.resolve())} <= set(lines["ReadOnlyPaths"][0].split())
    assert "ReadWritePaths" not in lines


def test_systemd_analyze_catches_a_broken_unit(tmp_path):
    """The check above can fail: a misspelt hardening option is reported."""
    if not Path(SYSTEMD_ANALYZE).exists():
        pytest.fail("systemd-analyze is not installed: run tools/install-system-deps.sh (Debian's systemd)")
    render_all(tmp_path, site_root=tmp_path / "o", index_dir=tmp_path / "i", casebook=CASEBOOK)
    unit = tmp_path / "casebook.service"
    unit.write_text(unit.read_text(encoding="utf-8").replace("ProtectSystem=strict", "ProtectSystem=strikt"),
                    encoding="utf-8")
    run = subprocess.run([SYSTEMD_ANALYZE, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert "ProtectSystem" in run.stderr or "protect system" in run.stderr.lower()


def test_the_renderer_refuses_values_that_would_become_syntax():
    template = "root @SITE_ROOT@;\n"
    assert render(template, {"SITE_ROOT": "/srv/casebook/output"}) == "root /srv/casebook/output;\n"
    for bad in ("/srv/x; include /etc/shadow", "/srv/x\nlisten 1", "/srv/$host", "/srv/{x}", "/srv/my site", ""):
        with pytest.raises(RenderError, match="SITE_ROOT"):
            render(template, {"SITE_ROOT": bad})
    with pytest.raises(RenderError, match="no value for SITE_ROOT"):
        render(template, {})
    with pytest.raises(RenderError, match="workers"):
        render_all(Path("/nonexistent"), site_root=Path("/srv/o"), index_dir=Path("/srv/i"), workers=1)


def test_every_template_placeholder_is_documented_in_its_header():
    import re

    for template in (ROOT / "deploy" / "nginx" / "casebook.conf", ROOT / "deploy" / "nginx" / "standalone.conf",
                     ROOT / "deploy" / "systemd" / "casebook.service"):
        text = template.read_text(encoding="utf-8")
        header_text = "\n".join(line for line in text.splitlines() if line.startswith("#"))
        for name in set(re.findall(r"@([A-Z_]+)@", text)):
            assert re.search(rf"#\s+@{name}@\s+\S", header_text), (template.name, name)


# --- updates under the running servers (last: they change what is served) -------------------------

def test_a_reload_replaces_every_worker_while_nginx_keeps_answering(deployed):
    """`systemctl reload casebook` (the unit's ExecReload sends SIGHUP): uvicorn's supervisor
    starts each new worker before it stops the old one, on the same listening socket."""
    import signal

    unit = _unit_lines(deployed["conf"] / "casebook.service")
    assert unit["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    old = {json.loads(get(deployed, "/api/health")[2])["worker"] for _ in range(20)}
    deployed["service"].send_signal(signal.SIGHUP)
    # A worker loads the index before it answers: under load that takes a while.
    deadline, statuses, recent = time.monotonic() + 180, [], []
    while time.monotonic() < deadline and (len(recent) < 10 or set(recent[-10:]) & old):
        statuses.append(get(deployed, f"/api/search?q={QUERY}&limit=1")[0])
        status, _, body = get(deployed, "/api/health")
        statuses.append(status)
        if status == 200:
            recent.append(json.loads(body)["worker"])
        time.sleep(0.25)   # two requests a turn: within the API's 10 a second (limit_req)
    assert set(statuses) == {200}, statuses   # not one request lost while the workers changed
    current = {json.loads(get(deployed, "/api/health")[2])["worker"] for _ in range(20)}
    assert not current & old, (old, current)


def test_a_rebuild_is_served_without_restarting_anything(deployed):
    """The documented update: `casebook build` into the served folders. nginx serves the new
    files at once; each service worker sees CURRENT name the new index generation at its next
    request (checked at most every 0.5 s) and answers from it."""
    from casebook.app.build import build_site

    content = deployed["root"] / "content"
    shutil.copytree(deployed["content"], content)
    text = next(t for t in (p.read_text(encoding="utf-8") for p in sorted((content / "cases").glob("*.md")))
                if "\nstatus: published\n" in t)
    old_slug = text.split("\nslug: ", 1)[1].split("\n", 1)[0]
    new_slug = "2026-12-02-lanjing-huzhujiao"
    new_text = text.replace(old_slug, new_slug).replace("\ntitle: ", "\ntitle: 蓝鲸互助角开进社区 ", 1)
    (content / "cases" / f"{new_slug}.md").write_text(new_text, encoding="utf-8")
    before = (deployed["index"] / "CURRENT").read_text(encoding="utf-8").strip()

    build_site(content, deployed["site"], deployed["index"], preview=True)
    after = (deployed["index"] / "CURRENT").read_text(encoding="utf-8").strip()
    assert after != before and (deployed["index"] / before).is_dir()   # the old one stays for readers

    status, headers, body = get(deployed, f"/cases/{new_slug}/", headers={"Accept-Encoding": "gzip"})
    assert status == 200 and header(headers, "Content-Encoding") == "gzip"
    assert "蓝鲸互助角" in gzip.decompress(body).decode("utf-8")
    deadline = time.monotonic() + 15
    seen: set[str] = set()
    while time.monotonic() < deadline:
        # Two workers: both must have moved (each answers some of the fresh connections).
        result = json.loads(get(deployed, f"/api/search?q={quote('蓝鲸互助角')}")[2])
        health = json.loads(get(deployed, "/api/health")[2])
        seen.add(health["index"])
        if result["total"] == 1 and health["index"] == after:
            break
        time.sleep(0.3)
    assert result["total"] == 1 and result["results"][0]["slug"] == new_slug
    assert health["index"] == after, seen
