"""Command-line options of the locustfile and the settings the personas read from them.

Every option also reads an environment variable: the target's are the suites' own
(``PAYSIM_TARGET_URL``, ``PAYSIM_KASPI_URL``, ``PAYSIM_FREEFIN_KEY``, ...), so a partner sets
them once for every suite. Credentials left out entirely fall back to the bundled simulator's
seed (``harness.target.bundled_credentials``); given partly, only what was given is used.
In distributed runs the master's options travel to the workers with each spawn message.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

from locust import events
from locust.env import Environment

from harness.target import LOAD_CREDENTIALS, LOAD_OPTIONS, bundled_credentials, default_of
from loadtests.shapes import SHAPES
from loadtests.thresholds import THRESHOLDS_FILE
from loadtests.windows import WINDOW_S

FREEFIN_CREDENTIALS = tuple(name for name in LOAD_CREDENTIALS if name.startswith("freefin_"))
KASPI_CREDENTIALS = tuple(name for name in LOAD_CREDENTIALS if name.startswith("kaspi_"))


@events.init_command_line_parser.add_listener
def add_options(parser: Any) -> None:
    """Options of the paysim profiles, beside Locust's own."""
    parser.add_argument(
        "--load-profile",
        default="smoke",
        env_var="PAYSIM_LOAD_PROFILE",
        help="profile: its thresholds, and its shape unless --shape is given",
    )
    parser.add_argument(
        "--shape",
        default="",
        env_var="PAYSIM_LOAD_SHAPE",
        help=f"load shape: {', '.join(SHAPES)} (default: the profile's name)",
    )
    parser.add_argument(
        "--shape-param",
        action="append",
        default=[],
        help="shape parameter name=value (repeatable), e.g. users=20",
    )
    parser.add_argument(
        "--thresholds",
        default=str(THRESHOLDS_FILE),
        env_var="PAYSIM_LOAD_THRESHOLDS",
        help="thresholds YAML",
    )
    parser.add_argument("--run-dir", default=".", help="folder for thresholds.json")
    parser.add_argument(
        "--latency-window",
        type=float,
        default=WINDOW_S,
        env_var="PAYSIM_LATENCY_WINDOW",
        help=f"seconds per window of latency_windows.csv (p50/p95/p99 over time; {WINDOW_S:g})",
    )
    for opt in LOAD_OPTIONS:  # the target's settings, as every suite takes them
        parser.add_argument(
            opt.flag,
            default=default_of(opt.name),
            choices=opt.choices or None,
            env_var=opt.env,
            help=opt.help.partition("; absent:")[0],  # this file starts no simulator
            include_in_web_ui=not opt.secret,
        )
    parser.add_argument(
        "--replay-share",
        type=float,
        default=0.1,
        help="share of creates that repeat an earlier Idempotency-Key",
    )
    parser.add_argument(
        "--refund-share",
        type=float,
        default=0.3,
        help="share of succeeded payments / paid invoices refunded",
    )
    parser.add_argument(
        "--poll-limit",
        type=float,
        default=10.0,
        help="seconds a shop polls an object before giving up",
    )
    parser.add_argument(
        "--think-scale",
        type=float,
        default=1.0,
        help="multiplies every persona's think time (0: no pauses)",
    )


@dataclasses.dataclass(frozen=True)
class FreefinAccount:
    """A terminal to send from: its key, and its signing secret when known (then we sign)."""

    key: str
    signing_secret: str = ""


@dataclasses.dataclass
class Settings:
    """What the personas need, resolved once per process."""

    freefin_url: str
    kaspi_url: str
    freefin_accounts: list[FreefinAccount]
    kaspi_keys: list[str]
    replay_share: float
    refund_share: float
    poll_limit: float
    think_scale: float
    _next: itertools.count = dataclasses.field(default_factory=itertools.count)

    def account_index(self) -> int:
        """Round-robin over the accounts, so load spreads over merchants' rate limits."""
        return next(self._next)


def resolve(options: Any) -> Settings:
    """Settings from parsed options (with their env defaults) and the bundled seed."""
    creds = {
        name: getattr(options, name, "") or "" for name in FREEFIN_CREDENTIALS + KASPI_CREDENTIALS
    }
    seed = bundled_credentials()
    for group in (FREEFIN_CREDENTIALS, KASPI_CREDENTIALS):
        if not any(creds[n] for n in group):
            creds.update({n: seed[n] for n in group if n in seed})
    target = (options.target_url or options.host or "").rstrip("/")
    if not target:
        raise ValueError("no target: give --target-url or PAYSIM_TARGET_URL")
    accounts = [
        FreefinAccount(creds[k], creds.get(s, ""))
        for k, s in (
            ("freefin_key", "freefin_signing_secret"),
            ("freefin_signed_key", "freefin_signed_secret"),
            ("freefin_key_b", ""),  # the harness knows no secret for merchant B: sent unsigned
        )
        if creds[k]
    ]
    return Settings(
        freefin_url=target,
        kaspi_url=(options.kaspi_url or target + "/api").rstrip("/"),
        freefin_accounts=accounts,
        kaspi_keys=[creds[k] for k in KASPI_CREDENTIALS if creds[k]],
        replay_share=options.replay_share,
        refund_share=options.refund_share,
        poll_limit=options.poll_limit,
        think_scale=options.think_scale,
    )


_cache: dict[int, Settings] = {}


def settings_of(environment: Environment) -> Settings:
    """The settings of this process's run (built on first use, after the master's options)."""
    key = id(environment)
    if key not in _cache:
        _cache[key] = resolve(environment.parsed_options)
    return _cache[key]


@events.test_start.add_listener
def _fresh_settings(environment: Environment, **_: Any) -> None:
    # Workers receive the master's options just before test_start: resolve them anew.
    _cache.pop(id(environment), None)
