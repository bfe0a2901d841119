"""One codeferry command as a worker runs it, for the benchmarks' whole-process figures.

    python benchmarks/cli_child.py pull s3://bucket/folder --dest DIR

What ``codeferry ARGS`` does, and nothing more: this file imports only what the ``codeferry``
script imports, then runs the command line, then prints what the benchmarks read on the last line
of standard output (``{"seconds": ..., "peak_rss_mb": ...}``: the command's own time and this
process's peak RSS). The parent times the whole process.
"""

import json
import time
from pathlib import Path  # codeferry imports it anyway

start = time.perf_counter()
from codeferry.cli import program  # noqa: E402 - timed with the command

try:
    program()  # reads sys.argv, as the `codeferry` script does
except SystemExit as stopped:
    if stopped.code:
        raise
seconds = time.perf_counter() - start
status = Path("/proc/self/status").read_text().splitlines()
peak_kb = next(float(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_kb / 1024}))
