"""One masker keeps secrets out of the contract record, the run's report and the grades."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.contract.record import Report
from harness.grading.findings import Evidence
from harness.masking import Masker, hidden, placeholders
from harness.report import build_report

KEY = "sk_test_partner_key_1234"
LONGER = KEY + "_and_more"


def test_secret_settings_become_the_variables_that_hold_them() -> None:
    found = placeholders({"freefin_key": KEY, "api": "freefin", "kaspi_key": "", "target_url": "x"})
    assert found == {KEY: "${PAYSIM_FREEFIN_KEY}"}


def test_the_longest_secret_is_replaced_first_and_short_values_are_left() -> None:
    mask = Masker({KEY: "${A}", LONGER: "${B}", "abc": "${C}"})
    assert mask.text(f"{LONGER} {KEY} abc") == "${B} ${A} abc"
    assert mask({"k": [KEY, 3], "n": None}) == {"k": ["${A}", 3], "n": None}


def test_a_secret_member_of_an_answer_is_masked_whatever_its_value() -> None:
    answer = '{"id": "we_1", "signing_secret": "whsec_once", "api_key": "x"}'
    assert Masker({}, answered=True).text(answer) == (
        '{"id": "we_1", "signing_secret": "[masked]", "api_key": "[masked]"}'
    )
    assert Masker({}).text(answer) == answer


def test_hidden_secrets_show_as_stars() -> None:
    assert Masker(hidden([KEY, ""])).text(f"key={KEY}") == "key=***"


def _shown(tmp_path: Path) -> dict[str, str]:
    """What each writer shows of a text that holds the key."""
    tmp_path.mkdir(exist_ok=True)
    report = Report(secrets={KEY: "${PAYSIM_FREEFIN_KEY}"})
    curl = Evidence("GET", f"http://127.0.0.1:1/?k={KEY}", {}, b"").curl([KEY])
    (tmp_path / "run.json").write_text(f'{{"target": "{KEY}"}}', encoding="utf-8")
    summary = build_report(tmp_path, secrets={KEY: "${PAYSIM_FREEFIN_KEY}"})
    return {
        "contract record": report.redact(f"Bearer {KEY}"),
        "grade curl": curl,
        "report summary": str(summary.get("meta")),
    }


def test_every_writer_masks_through_the_one_masker(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not [name for name, text in _shown(tmp_path).items() if KEY in text]
    monkeypatch.setattr(Masker, "text", lambda self, text: text)  # a masker that masks nothing
    leaked = [name for name, text in _shown(tmp_path / "broken").items() if KEY in text]
    assert leaked == ["contract record", "grade curl", "report summary"]
