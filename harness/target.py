"""The target under test: base URLs, credentials and secrets, from options, env or a file.

Every suite takes a :class:`Target` and runs the same against the bundled simulator or a
partner's server. Options mirror environment variables (``--freefin-key`` is
``PAYSIM_FREEFIN_KEY``) and a YAML credentials file (``freefin_key: ...``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from harness.level import CHOICES as LEVELS
from harness.level import Level
from harness.profile import ApiProfile, for_target, load_cached
from paysim.documents import DEFAULT_SEED

SEED_FILE = DEFAULT_SEED
DEFAULT_LISTEN = "127.0.0.1:0"


@dataclasses.dataclass(frozen=True)
class Option:
    """One target setting: its field name, help text and whether it is a secret."""

    name: str
    help: str
    secret: bool = False
    choices: tuple[str, ...] = ()  # a closed set, listed in --help
    load: bool = False  # the load personas take it too (paysim load, the locustfile)

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return "PAYSIM_" + self.name.upper()


OPTIONS: tuple[Option, ...] = (
    Option(
        "target_url",
        "server root of the implementation (freefin paths live under it); "
        "absent: the bundled simulator is started on a free port",
        load=True,
    ),
    Option(
        "kaspi_url",
        "Kaspi API base URL (the spec's server, ending in /api); default: <target_url>/api",
        load=True,
    ),
    Option("control_url", "simulator control API (/_sim); default for the bundled simulator"),
    Option(
        "control_token",
        "the simulator's control token (sent as X-Control-Token), when it was started with one",
        secret=True,
    ),
    Option(
        "api",
        "which API to test: freefin, kaspi or both (default both)",
        choices=("freefin", "kaspi", "both"),
        load=True,
    ),
    Option(
        "contract_level",
        "spec (the seed documents alone) or strict (plus supplements)",
        choices=LEVELS,
    ),
    Option("freefin_key", "freefin bearer key of merchant A, terminal 1", secret=True, load=True),
    Option("freefin_signing_secret", "signing secret of that terminal", secret=True, load=True),
    Option("freefin_key_2", "freefin key of another terminal of merchant A", secret=True),
    Option(
        "freefin_signed_key",
        "freefin key of a terminal that requires signatures",
        secret=True,
        load=True,
    ),
    Option("freefin_signed_secret", "signing secret of that terminal", secret=True, load=True),
    Option("freefin_key_b", "freefin key of merchant B (isolation checks)", secret=True, load=True),
    Option("freefin_limited_key", "freefin key of a merchant with a low rate limit", secret=True),
    Option("kaspi_key", "Kaspi X-API-Key of merchant A", secret=True, load=True),
    Option(
        "kaspi_key_b", "Kaspi X-API-Key of merchant B (isolation checks)", secret=True, load=True
    ),
    Option(
        "kaspi_key_unconnected", "Kaspi key of a merchant whose Kaspi is not connected", secret=True
    ),
    Option("kaspi_limited_key", "Kaspi key of a merchant with a low rate limit", secret=True),
    Option(
        "webhook_secret",
        "secret the target signs freefin webhooks with (default: freefin_signing_secret)",
        secret=True,
    ),
    Option(
        "webhook_public_url",
        "URL at which the target reaches the harness's webhook "
        "receiver (default: its loopback address)",
    ),
    Option(
        "webhook_listen",
        "HOST:PORT the harness's webhook receiver listens on (default 127.0.0.1:0: "
        "loopback, a free port); for a remote target, a fixed port it can reach",
    ),
    Option(
        "outcome_hook",
        "for targets other than the simulator: an http(s) URL the harness "
        "POSTs {api, object, id, outcome} to, or a shell command given the same as JSON "
        "on stdin, to drive outcomes",
    ),
    Option(
        "target_profile",
        "YAML file of the target's incidental choices where the seeds leave them open (list "
        "envelopes, error code and event names, webhook signature header, optional features); "
        "default: none (the simulator's own for the bundled simulator)",
    ),
    Option("credentials_file", "YAML file with any of these settings"),
)

LOAD_OPTIONS = tuple(opt for opt in OPTIONS if opt.load)
LOAD_CREDENTIALS = tuple(opt.name for opt in LOAD_OPTIONS if opt.secret)


@dataclasses.dataclass
class Target:
    """Where the implementation under test lives and how to talk to it."""

    target_url: str
    kaspi_url: str
    control_url: str | None = None
    control_token: str = ""
    api: str = "both"
    contract_level: str = Level.SPEC
    freefin_key: str = ""
    freefin_signing_secret: str = ""
    freefin_key_2: str = ""
    freefin_signed_key: str = ""
    freefin_signed_secret: str = ""
    freefin_key_b: str = ""
    freefin_limited_key: str = ""
    kaspi_key: str = ""
    kaspi_key_b: str = ""
    kaspi_key_unconnected: str = ""
    kaspi_limited_key: str = ""
    webhook_secret: str = ""
    webhook_public_url: str | None = None
    webhook_listen: str = DEFAULT_LISTEN
    outcome_hook: str | None = None
    target_profile: str | None = None
    bundled: bool = False

    @property
    def apis(self) -> tuple[str, ...]:
        return ("freefin", "kaspi") if self.api == "both" else (self.api,)

    @property
    def level(self) -> Level:
        """The level this target is held to."""
        return Level.of(self.contract_level)

    def profile(self, api: str) -> ApiProfile:
        """This target's profile for ``api`` (its incidental choices)."""
        return for_target(self.target_profile, self.bundled).api(api)


def default_of(name: str) -> str:
    """A setting's default when none is given ("" where the target must say)."""
    found = next(f for f in dataclasses.fields(Target) if f.name == name)
    return "" if found.default in (dataclasses.MISSING, None) else str(found.default)


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` as a bind address; a ValueError saying what is wrong otherwise."""
    host, sep, port = str(value).strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(
            f"webhook_listen must be HOST:PORT (port 0-65535, 0 for a free one), not {value!r}"
        )
    return host, int(port)


def bundled_credentials(seed_file: Path = SEED_FILE) -> dict[str, str]:
    """The credentials of the simulator's default seed, by option name."""
    seed = yaml.safe_load(seed_file.read_text(encoding="utf-8"))
    ff = seed["freefin"]["merchants"]
    kp = seed["kaspi"]["merchants"]
    a1, a2, a3 = ff[0]["terminals"][:3]
    return {
        "freefin_key": a1["key"],
        "freefin_signing_secret": a1["signing_secret"],
        "freefin_signed_key": a2["key"],
        "freefin_signed_secret": a2["signing_secret"],
        "freefin_key_2": a3["key"],
        "freefin_key_b": ff[1]["terminals"][0]["key"],
        "freefin_limited_key": ff[2]["terminals"][0]["key"],
        "kaspi_key": kp[0]["api_key"],
        "kaspi_key_b": kp[1]["api_key"],
        "kaspi_key_unconnected": kp[2]["api_key"],
        "kaspi_limited_key": kp[3]["api_key"],
    }


def collect_settings(
    get_option: Callable[[str], Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Merge settings: command-line option, then environment, then credentials file."""
    environ = os.environ if environ is None else environ
    found: dict[str, Any] = {}
    for opt in OPTIONS:
        value = get_option(opt.name) if get_option else None
        if value in (None, ""):
            value = environ.get(opt.env)
        if value not in (None, ""):
            found[opt.name] = value
    cred_file = found.pop("credentials_file", None)
    if cred_file:
        data = yaml.safe_load(Path(cred_file).read_text(encoding="utf-8")) or {}
        known = {o.name for o in OPTIONS}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"{cred_file}: unknown settings {sorted(unknown)}")
        for key, value in data.items():
            found.setdefault(key, value)
    return found


def make_target(settings: Mapping[str, Any], bundled_url: str | None = None) -> Target:
    """Build a Target; with ``bundled_url`` the bundled simulator's defaults fill the gaps."""
    values = dict(settings)
    if values.get("api", "both") not in ("freefin", "kaspi", "both"):
        raise ValueError(f"api must be freefin, kaspi or both, not {values['api']!r}")
    values["contract_level"] = Level.of(values.get("contract_level", Level.SPEC))
    bundled = bundled_url is not None
    if bundled:
        values["target_url"] = bundled_url
        values.setdefault("control_url", f"{bundled_url}/_sim")
        for key, value in bundled_credentials().items():
            values.setdefault(key, value)
    if not values.get("target_url"):
        raise ValueError("no target_url given")
    values["target_url"] = str(values["target_url"]).rstrip("/")
    values.setdefault("kaspi_url", values["target_url"] + "/api")
    values["kaspi_url"] = str(values["kaspi_url"]).rstrip("/")
    values.setdefault("webhook_secret", values.get("freefin_signing_secret", ""))
    values["webhook_listen"] = str(values.get("webhook_listen") or DEFAULT_LISTEN).strip()
    parse_listen(values["webhook_listen"])
    if values.get("target_profile"):
        load_cached(str(values["target_profile"]))  # a ProfileError (ValueError) names the line
    return Target(bundled=bundled, **values)
