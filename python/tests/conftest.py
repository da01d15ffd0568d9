"""Lets pytest import brickml_torch from this checkout without `pip install -e python/`."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
