"""``python -m plugtorch.conformance``: the same as the ``plugtorch-conformance`` command."""
import sys

from plugtorch.conformance.cli import main

sys.exit(main())
