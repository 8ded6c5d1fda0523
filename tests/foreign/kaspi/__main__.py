"""CLI: python -m tests.foreign.kaspi --port 0 [--bug NAME]..."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from .app import POLL, serve
from .bugs import BUGS


def main(argv: list[str] | None = None) -> int:
    """Bind, print READY <base URL>, serve until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m tests.foreign.kaspi")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--bug", action="append", default=[], metavar="NAME")
    options = parser.parse_args(argv)
    try:
        server, base = serve(options.bug, options.port)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        print("known bugs:\n" + "\n".join(f"  {k}: {v}" for k, v in BUGS.items()), file=sys.stderr)
        return 2

    def stop(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"READY {base}", flush=True)
    server.serve_forever(poll_interval=POLL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
