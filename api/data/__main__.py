"""`python -m api.data COMMAND`: see `api.data.cli`."""

import sys

from api.data.cli import main

sys.exit(main())
