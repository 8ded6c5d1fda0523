"""``python -m loadtests``: ``paysim load`` under another name, with its options and exit codes.

It runs the command in place of this process rather than importing it: the load layer does
not import the command line (``paysim``), which imports it.
"""

import os
import sys

os.execv(sys.executable, [sys.executable, "-m", "paysim", "load", *sys.argv[1:]])
