import sys

from gaitlab.cli import main

sys.exit(main())
