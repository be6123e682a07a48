"""Run the simulator: ``python -m sandbox --port 8900 --seed 1 --scale demo``."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from sandbox.server import DEFAULT_API_KEY, Sandbox
from sandbox.workspace import SCALES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Customer.io App API simulator on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8900, help="TCP port (0 picks a free one)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the synthetic workspace")
    parser.add_argument("--scale", default="demo", choices=sorted(SCALES), help="data size")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY, help="the only key accepted")
    parser.add_argument(
        "--rate-limit",
        type=float,
        default=10.0,
        help="requests per second per key before 429 (0 turns it off)",
    )
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay per request")
    parser.add_argument(
        "--count",
        action="append",
        default=[],
        metavar="DATASET=N",
        help="override one dataset size of the scale, e.g. --count deliveries=1000000",
    )
    args = parser.parse_args(argv)

    counts = {**SCALES["small"], **SCALES[args.scale]}
    for item in args.count:
        name, _, value = item.partition("=")
        if name not in counts or not value.isdigit():
            parser.error(f"--count {item!r} is invalid: use DATASET=N with one of {sorted(counts)}")
        counts[name] = int(value)

    sandbox = Sandbox(
        seed=args.seed,
        scale=counts,
        api_key=args.api_key,
        rate_limit=args.rate_limit or None,
        latency_ms=args.latency_ms,
        port=args.port,
    ).start()
    print(f"sandbox serving {sandbox.url}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
