"""`python -m scalesearch` runs the command line."""

import sys

from scalesearch.cli import main

sys.exit(main())
