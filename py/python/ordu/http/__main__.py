"""``python -m ordu.http``: serves a new store until Ctrl-C."""

import sys

from ordu.http.cli import main

sys.exit(main())
