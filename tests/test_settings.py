"""Settings: environment first, then the lake's insightflow.toml; secrets only from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from insightflow.errors import UsageError
from insightflow.settings import SETTINGS_FILE, Settings


def test_defaults_file_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.load(tmp_path).retries == 3 and Settings.load(tmp_path).schedule_enabled is False
    (tmp_path / SETTINGS_FILE).write_text(
        '[orchestration]\nretries = 5\nschedule = "0 1 * * *"\n[alerts]\non_success = true\nemail_to = ["a@x.org", "b@x.org"]\n'
    )
    settings = Settings.load(tmp_path)
    assert (settings.retries, settings.schedule, settings.alert_on_success) == (5, "0 1 * * *", True)
    assert settings.email_to == ("a@x.org", "b@x.org")
    monkeypatch.setenv("INSIGHTFLOW_RETRIES", "1")
    monkeypatch.setenv("INSIGHTFLOW_ALERT_EMAIL_TO", "c@x.org, d@x.org")
    monkeypatch.setenv("INSIGHTFLOW_ALERT_WEBHOOK", "https://hooks.example/T0/B0/secret")
    settings = Settings.load(tmp_path)
    assert settings.retries == 1 and settings.email_to == ("c@x.org", "d@x.org")
    assert settings.alert_webhook == "https://hooks.example/T0/B0/secret"


def test_bad_settings_are_one_line_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INSIGHTFLOW_RETRIES", "many")
    with pytest.raises(UsageError, match=r"\$INSIGHTFLOW_RETRIES: 'many' is not a valid int for retries"):
        Settings.load(tmp_path)
    monkeypatch.delenv("INSIGHTFLOW_RETRIES")
    (tmp_path / SETTINGS_FILE).write_text('[alerts]\nalert_webhook = "https://hooks.example/x"\n')
    with pytest.raises(UsageError, match="secrets come from environment variables only"):
        Settings.load(tmp_path)
    (tmp_path / SETTINGS_FILE).write_text("[orchestration\n")
    with pytest.raises(UsageError, match="not valid TOML"):
        Settings.load(tmp_path)


def _documented_settings() -> tuple[set[tuple[str, str]], str]:
    """The (section, key) pairs of every TOML example in README.md and docs/, and all their text."""
    import re
    import tomllib

    root = Path(__file__).parents[1]
    text = "\n".join(p.read_text("utf-8") for p in [root / "README.md", *sorted((root / "docs").glob("*.md"))])
    pairs = set()
    for block in re.findall(r"```toml\n(.*?)```", text, flags=re.S):
        for section, values in tomllib.loads(block).items():
            pairs |= {(section, key) for key in values if not isinstance(values[key], dict)}
    return pairs, text


def test_every_setting_is_documented_with_its_environment_variable() -> None:
    from insightflow.settings import _KEYS, _SECRETS

    pairs, text = _documented_settings()
    undocumented = [f"[{section}] {key}" for _, section, key, _ in _KEYS if (section, key) not in pairs]
    undocumented += [f"${env}" for env in [f"INSIGHTFLOW_{k}" for *_, k in _KEYS] + [e for _, e in _SECRETS]
                     + ["INSIGHTFLOW_LAKE", "INSIGHTFLOW_API_TOKENS"] if env not in text]
    assert not undocumented, f"settings missing from the README's or docs/' examples: {undocumented}"
    real = {(section, key) for _, section, key, _ in _KEYS}
    stale = sorted(f"[{s}] {k}" for s, k in pairs - real if s not in ("encodings",))
    assert not stale, f"documented settings that do not exist: {stale}"
