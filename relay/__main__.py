"""`python -m relay`: the same as `fitbeam relay` (relay/main.py)."""

import sys

from commands import logs
from relay.main import main

if __name__ == "__main__":
    logs.configure()
    sys.exit(main())
