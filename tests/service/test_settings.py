"""Settings: defaults < TOML file < BOUCLIER_* environment < command-line options."""

from __future__ import annotations

from pathlib import Path

import pytest

from bouclier.errors import BouclierError
from bouclier.service.settings import load_settings


def test_defaults_are_loopback_and_embedded_sqlite(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = load_settings(env={})
    assert (s.host, s.port, s.data_dir) == ("127.0.0.1", 8737, Path("bouclier-data"))
    assert s.is_sqlite and s.url == f"sqlite:///{tmp_path / 'bouclier-data' / 'bouclier.db'}"


def test_precedence(tmp_path):
    cfg = tmp_path / "b.toml"
    cfg.write_text('[serve]\nport = 9000\nhost = "127.0.0.2"\nrate_per_minute = 10\nmax_batch = 3\n')
    s = load_settings(config=cfg, env={})
    assert (s.port, s.host, s.rate_per_minute, s.max_batch) == (9000, "127.0.0.2", 10, 3)
    s = load_settings(config=cfg, env={"BOUCLIER_PORT": "9100", "BOUCLIER_DATABASE_URL": "postgresql+psycopg://x/y"})
    assert s.port == 9100 and not s.is_sqlite and s.host == "127.0.0.2"
    s = load_settings(config=cfg, env={"BOUCLIER_PORT": "9100"}, port=9200)
    assert s.port == 9200


def test_data_dir_sources_and_default_config_file(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    (d / "bouclier.toml").write_text("max_batch = 7\n")
    s = load_settings(env={"BOUCLIER_DATA_DIR": str(d)})
    assert s.data_dir == d and s.max_batch == 7 and s.url.endswith("data/bouclier.db")
    assert load_settings(data_dir=tmp_path / "other", env={"BOUCLIER_DATA_DIR": str(d)}).data_dir == tmp_path / "other"


def test_bad_values_are_clear_errors(tmp_path):
    with pytest.raises(BouclierError, match="BOUCLIER|port"):
        load_settings(env={"BOUCLIER_PORT": "eighty"})
    bad = tmp_path / "bad.toml"
    bad.write_text("port = [")
    with pytest.raises(BouclierError, match="invalid TOML"):
        load_settings(config=bad, env={})
    with pytest.raises(BouclierError, match="cannot read"):
        load_settings(config=tmp_path / "missing.toml", env={})
