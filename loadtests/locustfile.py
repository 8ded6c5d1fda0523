"""paysim load profiles for Locust: both APIs' personas, a named shape, a threshold gate.

    locust -f loadtests/locustfile.py --headless --load-profile smoke --api freefin \\
        --target-url http://127.0.0.1:8080 --csv run/stats --html run/report.html \\
        --run-dir run

``paysim load`` wraps this with run folders, the bundled simulator and distributed modes (see
``loadtests/run.py``). The options this file adds to Locust's own are listed in
``loadtests/settings.py`` (Locust's ``--help`` shows only its own).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Plain `locust -f loadtests/locustfile.py` puts only this folder on sys.path; the profiles
# import the project's packages (loadtests, harness) from the repository root.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from locust import LoadTestShape, User  # noqa: E402

from loadtests import gate, idempotency, recorder, settings  # noqa: E402, F401  (listeners)
from loadtests.freefin import FreefinBackOffice, FreefinPayoutBatch, FreefinShop  # noqa: E402
from loadtests.kaspi import KaspiBackOffice, KaspiQr, KaspiShop, KaspiSubscriptions  # noqa: E402
from loadtests.shapes import Shape, make_shape, parse_params  # noqa: E402

PERSONAS: dict[str, list[type[User]]] = {
    "freefin": [FreefinShop, FreefinBackOffice, FreefinPayoutBatch],
    "kaspi": [KaspiShop, KaspiQr, KaspiSubscriptions, KaspiBackOffice],
}


class ProfileShape(LoadTestShape):
    """The shape named by ``--shape`` (default: the profile's name), with ``--shape-param``.

    User counts are per API: with ``--api both`` they double, so each API sees the same load
    (and each merchant the same share of its rate limit) whatever the mix. Headless runs use
    this class (Locust takes the first shape of a locustfile); the named classes below are the
    same shapes for Locust's web UI class picker (``--class-picker``).
    """

    _shape: Shape | None = None
    shape_name: str | None = None  # None: --shape, or the profile's name

    def tick(self) -> tuple[int, float, list[type[User]]] | None:
        assert self.runner is not None
        options = self.runner.environment.parsed_options
        assert options is not None
        if self._shape is None:
            name = self.shape_name or options.shape or options.load_profile
            self._shape = make_shape(name, parse_params(options.shape_param))
        apis = ("freefin", "kaspi") if options.api == "both" else (options.api,)
        step = self._shape.tick(self.get_run_time())
        if step is None:
            return None
        users, rate = step
        return users * len(apis), rate * len(apis), [u for a in apis for u in PERSONAS[a]]


class SmokeShape(ProfileShape):
    shape_name = "smoke"


class RampShape(ProfileShape):
    shape_name = "ramp"


class StepShape(ProfileShape):
    shape_name = "step"


class SpikeShape(ProfileShape):
    shape_name = "spike"


class SoakShape(ProfileShape):
    shape_name = "soak"
