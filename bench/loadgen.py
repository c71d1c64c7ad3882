"""A lean HTTP load generator: closed-loop clients on keep-alive connections, in one
asyncio process, so that on a 2-core machine the generator takes as little CPU as it can
from the server it measures (a thread per client with a full HTTP library spent several
milliseconds of CPU per request, most of the machine's second core).

    python -m bench.loadgen URL_PREFIX QUERIES.json --clients 8 --requests 400

Prints JSON: every request's latency in milliseconds, the wall time and the number of
responses whose status was not 200. URL_PREFIX is like http://127.0.0.1:8000/api/search?limit=10&q=
and each query is appended URL-encoded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from urllib.parse import quote, urlsplit


async def _client(host: str, port: int, paths: list[str], latencies: list[float], errors: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for path in paths:
            started = time.perf_counter()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode("ascii"))
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            latencies.append((time.perf_counter() - started) * 1000)
            if status != 200:
                errors.append(status)
    finally:
        writer.close()


async def run(prefix: str, queries: list[str], clients: int, requests: int) -> dict:
    parts = urlsplit(prefix)
    base = parts.path + ("?" + parts.query if parts.query else "")
    latencies: list[float] = []
    errors: list[int] = []
    per_client = [[base + quote(queries[(number + i) % len(queries)]) for i in range(requests // clients)]
                  for number in range(clients)]
    started = time.perf_counter()
    await asyncio.gather(*(_client(parts.hostname or "127.0.0.1", parts.port or 80, paths, latencies, errors)
                           for paths in per_client))
    return {"latencies_ms": latencies, "wall_s": time.perf_counter() - started, "errors": len(errors)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("prefix")
    parser.add_argument("queries", help="a JSON file with the list of queries")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    with open(args.queries, encoding="utf-8") as handle:
        queries = json.load(handle)
    json.dump(asyncio.run(run(args.prefix, queries, args.clients, args.requests)), sys.stdout)


if __name__ == "__main__":
    main()
