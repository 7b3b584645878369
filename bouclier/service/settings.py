"""Service settings: defaults < TOML file < BOUCLIER_* environment < command-line options.

The data folder is `--data-dir`, else BOUCLIER_DATA_DIR, else the TOML file's `data_dir`, else
./bouclier-data. The TOML file is `--config`, else BOUCLIER_CONFIG, else DATA_DIR/bouclier.toml
when it exists. The database is BOUCLIER_DATABASE_URL (PostgreSQL for real deployments), else an
embedded SQLite file in the data folder (WAL mode).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import BouclierError

ENV_PREFIX = "BOUCLIER_"


@dataclass
class Settings:
    data_dir: Path = Path("bouclier-data")
    database_url: str | None = None  # None: sqlite:///DATA_DIR/bouclier.db
    host: str = "127.0.0.1"
    port: int = 8737
    # Limits: whole request body, one image file, decoded pixels, images per batch.
    max_request_bytes: int = 32 * 1024 * 1024
    max_image_bytes: int = 20 * 1024 * 1024
    max_image_pixels: int = 50_000_000
    max_batch: int = 16
    max_bundle_fingerprints: int = 10_000
    max_import_records: int = 200_000
    # Per-key token bucket: sustained requests per minute and burst size (a key may override the rate).
    rate_per_minute: int = 6000
    rate_burst: int = 300
    # Withdrawal tombstones carry the PDQ so that copies can be deleted; kept this long, then purged.
    tombstone_retention_days: int = 30
    default_bank: str = "default"
    # Key deriving case secrets (so an idempotent retry can return the secret again). Default: a random
    # key created in DATA_DIR/server.key; set it when several servers share one PostgreSQL.
    secret_key: str | None = None
    log_level: str = "info"
    extra: dict[str, Any] = field(default_factory=dict)  # unknown TOML keys, kept for callers

    @property
    def url(self) -> str:
        """The SQLAlchemy URL actually used."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'bouclier.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")


def _coerce(name: str, value: Any) -> Any:
    """Convert a TOML/env value to the type of the field `name`."""
    default = getattr(Settings, name, None) if name != "extra" else None
    try:
        if name == "data_dir":
            return Path(value).expanduser()
        if name in ("database_url", "secret_key"):
            return str(value) if value not in (None, "") else None
        if isinstance(default, bool):
            return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")
        if isinstance(default, int):
            return int(value)
        return str(value)
    except (TypeError, ValueError):
        raise BouclierError(f"setting {name}: invalid value {value!r}") from None


def load_settings(
    *,
    data_dir: Path | None = None,
    config: Path | None = None,
    env: dict[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Resolve settings from all sources (see module docstring). `overrides` are CLI options (None = unset)."""
    env = dict(os.environ if env is None else env)
    names = {f.name for f in fields(Settings)} - {"extra"}
    values: dict[str, Any] = {}

    # The data folder is needed first, to find the default config file.
    dd = data_dir or (Path(env[ENV_PREFIX + "DATA_DIR"]) if env.get(ENV_PREFIX + "DATA_DIR") else None)
    cfg_path = config or (Path(env[ENV_PREFIX + "CONFIG"]) if env.get(ENV_PREFIX + "CONFIG") else None)
    if cfg_path is None:
        candidate = (dd or Settings.data_dir) / "bouclier.toml"
        cfg_path = candidate if candidate.is_file() else None
    extra: dict[str, Any] = {}
    if cfg_path is not None:
        try:
            doc = tomllib.loads(Path(cfg_path).read_text(encoding="utf-8"))
        except OSError as e:
            raise BouclierError(f"{cfg_path}: cannot read config ({e.strerror})") from None
        except tomllib.TOMLDecodeError as e:
            raise BouclierError(f"{cfg_path}: invalid TOML ({e})") from None
        doc = doc.get("serve", doc)  # accept a [serve] table or top-level keys
        for k, v in doc.items():
            if k in names:
                values[k] = _coerce(k, v)
            else:
                extra[k] = v
    for k in names:
        if env.get(ENV_PREFIX + k.upper()) not in (None, ""):
            values[k] = _coerce(k, env[ENV_PREFIX + k.upper()])
    for k, v in overrides.items():
        if k not in names:
            raise TypeError(f"unknown setting {k}")
        if v is not None:
            values[k] = _coerce(k, v)
    if data_dir is not None:
        values["data_dir"] = Path(data_dir)
    s = Settings(**values, extra=extra)
    return dataclasses.replace(s, data_dir=s.data_dir.expanduser())
