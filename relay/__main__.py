"""`python -m relay`: the same as `fitbeam relay` (relay/main.py)."""

import sys

from commands import logs
from relay.main import main

logs.configure()
sys.exit(main())
