"""`python -m data.bootstrap`: kept for the Makefile, the README and scripts. The use case (migrate, then
demo data on first run only) is desk.bootstrap."""

from __future__ import annotations

import sys


def main() -> int:
    from desk.bootstrap import main as desk_main  # the command line composes the layers, like data.generate

    return desk_main()


if __name__ == "__main__":
    sys.exit(main())
