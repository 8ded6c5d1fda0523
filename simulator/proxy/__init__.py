"""The validating proxy (``paysim proxy``): see ``app`` for what it does."""

from simulator.proxy.app import create_proxy
from simulator.proxy.cli import main, parse_args, served

__all__ = ["create_proxy", "main", "parse_args", "served"]
