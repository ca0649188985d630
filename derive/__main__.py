"""``python -m derive``."""

import sys

from derive.app.cli import main

sys.exit(main())
