"""Fixtures for the VaultFactory tests: the shared stack (factory, create_vault)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mmx_stack import *  # noqa: E402,F401,F403
