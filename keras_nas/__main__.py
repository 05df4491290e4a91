"""`python -m keras_nas` runs the command line."""

import sys

from keras_nas.cli import main

sys.exit(main())
