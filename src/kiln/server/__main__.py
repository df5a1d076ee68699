"""``python -m kiln.server``: serve with settings from the environment (the embedded default's way in)."""

from __future__ import annotations

import sys

from kiln.config import load_settings
from kiln.errors import KilnError
from kiln.server.process import serve


def main() -> int:
    try:
        serve(load_settings())
    except KilnError as e:
        print(f"Error: {e.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
