"""Takes this folder off the import path, for every benchmark to import first.

Python puts a script's folder first on the path, and `email.py` here (named after what
it measures) would then stand in for the standard library's `email`, which almost
everything imports (http.client, httpx, aiosmtplib). Run as `python bench/X.py`.
"""

import sys
from pathlib import Path

import _proc  # noqa: F401 - loaded while this folder is still on the path, for the benchmarks

HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]
