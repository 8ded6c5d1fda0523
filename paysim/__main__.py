"""``python -m paysim``."""

import sys

from paysim.cli import main

sys.exit(main())
