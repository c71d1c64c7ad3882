"""`casebook serve` as a real process on a free port, queried over HTTP."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from tests.conftest import ROOT, start_server, stop_server

pytestmark = pytest.mark.shared


@pytest.fixture(scope="module")
def server(built_site):
    process, base = start_server(built_site["output"], built_site["index"])
    yield base
    stop_server(process)


def test_api_matches_cli_contract(server, built_site):
    reply = httpx.get(server + "/api/search", params={"q": "心家园", "limit": 5})
    assert reply.status_code == 200
    body = reply.json()
    assert body["total"] == 1
    result = body["results"][0]
    assert {"slug", "path", "title", "date", "url", "score", "snippet"} <= set(result)
    assert result["path"].startswith("cases/") and result["url"].startswith("/cases/")
    cli = subprocess.run([sys.executable, "-m", "casebook.cli", "search", "心家园", "--json", "--index",
                          str(built_site["index"])], cwd=ROOT, capture_output=True, text=True, check=True)
    assert '"total": 1' in cli.stdout and result["slug"] in cli.stdout


def test_site_and_search_page_served(server):
    assert "社区金融案例库" in httpx.get(server + "/").text
    page = httpx.get(server + "/search/", params={"q": "适老化"})
    assert page.status_code == 200 and "<mark>适老化</mark>" in page.text


def test_bad_parameters_are_400_never_500(server):
    for params in ({"q": "a", "limit": "abc"}, {"q": "a", "page": "0"}, {"q": "x" * 1000}, {"q": "a", "sort": "x"},
                   {"q": "a", "bogus": "1"}):
        reply = httpx.get(server + "/api/search", params=params)
        assert reply.status_code == 400 and reply.json()["error"], params


def test_reflected_values_are_escaped(server):
    hostile = '<script>alert("x")</script>'
    page = httpx.get(server + "/search/", params={"q": hostile})
    assert page.status_code == 200
    assert "<script>alert" not in page.text and "&lt;script&gt;" in page.text
    api = httpx.get(server + "/api/search", params={"q": hostile}).text
    assert "<script>" not in api.replace('\\u003c', '<') or '"total":0' in api


def test_export_and_health(server):
    csv_reply = httpx.get(server + "/api/export", params={"q": "银行", "format": "csv"})
    assert csv_reply.status_code == 200 and csv_reply.headers["content-type"].startswith("text/csv")
    assert "slug,title,date" in csv_reply.text
    health = httpx.get(server + "/api/health").json()
    assert health["status"] == "ok" and health["cases"] == 4


def test_workers_share_the_load_on_keep_alive_connections(built_site):
    """With --workers 2, keep-alive connections are spread over both workers (one listening
    socket per worker, SO_REUSEPORT), rather than all accepted by whichever woke first."""
    import socket

    process, base = start_server(built_site["output"], built_site["index"], workers=2)
    try:
        host, port = base.removeprefix("http://").split(":")
        connections = [socket.create_connection((host, int(port))) for _ in range(16)]
        workers = set()
        for connection in connections:
            for _ in range(2):   # two requests on each connection: keep-alive
                connection.sendall(f"GET /api/health HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
                reply = b""
                while b"}" not in reply:
                    reply += connection.recv(65536)
                assert reply.startswith(b"HTTP/1.1 200")
                workers.add(httpx.Response(200, content=reply.split(b"\r\n\r\n", 1)[1]).json()["worker"])
            connection.close()
        assert len(workers) == 2
    finally:
        stop_server(process)


def test_worker_sockets_give_connections_tcp_nodelay():
    """Accepted connections inherit proto=IPPROTO_TCP from the listening socket, so asyncio
    turns Nagle's algorithm off (else keep-alive responses wait for delayed ACKs)."""
    import asyncio
    import socket

    from search.service import listening_socket
    from tests.conftest import free_port

    async def main() -> int:
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def accepted(reader, writer) -> None:  # type: ignore[no-untyped-def]
            sock = writer.get_extra_info("socket")
            seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        port = free_port()
        server = await asyncio.start_server(accepted, sock=listening_socket("127.0.0.1", port))
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        flag = await asyncio.wait_for(seen, 5)
        writer.close()
        server.close()
        return flag

    assert asyncio.run(main()) == 1
