"""Customer pseudonyms for everything that leaves the analyst's machine.

Stakeholder HTML and the exported contact lists show no real customer ids: each id is
replaced by a keyed hash, ``c_`` + the first 16 hex digits of HMAC-SHA256(key, id)
(RFC 2104). Without the key nobody can tell which customer a pseudonym belongs to, or
check a guessed id against it; with the same key the same customer always gets the same
pseudonym, so lists from different runs can be compared and an analyst holding the key
can look a pseudonym up in ``customers.parquet`` (which keeps the real ids).

The key comes from, in this order:

1. the environment variable ``RETENTION_KIT_PSEUDONYM_KEY`` (at least 16 characters);
2. the file named by ``privacy.key_file`` in the run configuration (outside the repository);
3. ``~/.config/retention-kit/pseudonym.key`` (``$XDG_CONFIG_HOME`` if set), created with a
   random key on first use (:func:`load_key` with ``create=True``; the pipeline does this
   once and says so on the console).

Nothing here runs at import time.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis.errors import ConfigError

ENV_VAR = "RETENTION_KIT_PSEUDONYM_KEY"
PREFIX = "c_"
HEX_DIGITS = 16
"""64 bits: for 10 million customers the chance of any two sharing a pseudonym is about 3 in a million
(and :meth:`Pseudonymiser.ids` checks)."""
MIN_KEY_LENGTH = 16


def default_key_file() -> Path:
    """``$XDG_CONFIG_HOME/retention-kit/pseudonym.key``, default ``~/.config/retention-kit/pseudonym.key``."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "retention-kit" / "pseudonym.key"


@dataclass(frozen=True)
class PseudonymKey:
    """The secret key and where it came from (the key itself is never shown)."""

    secret: bytes = field(repr=False)
    source: str
    created: bool = False

    @property
    def fingerprint(self) -> str:
        """A short public identifier of the key (a keyed hash of a fixed text), for the manifest."""
        return hmac.new(self.secret, b"retention-kit key fingerprint", hashlib.sha256).hexdigest()[:12]


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def _read_key_file(path: Path, what: str) -> bytes:
    try:
        secret = path.read_bytes().strip()
    except OSError as exc:
        raise ConfigError(f"Cannot read the pseudonymisation key {path} ({what}): {exc.strerror or exc}.") from None
    if len(secret) < MIN_KEY_LENGTH:
        raise ConfigError(
            f"The pseudonymisation key in {path} ({what}) is {len(secret)} bytes; use at least {MIN_KEY_LENGTH}"
            f" (e.g. python -c 'import secrets; print(secrets.token_hex(32))' > {path})."
        )
    return secret


def _create_key_file(path: Path) -> bool:
    """Write a random key to ``path`` (mode 0600) unless it exists; True if this call created it."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another run was first: use its key
        return False
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secrets.token_hex(32) + "\n")
    return True


def load_key(key_file: Path | str | None = None, *, create: bool = False, project_dir: Path | None = None) -> PseudonymKey:
    """Find the pseudonymisation key (see the module docstring for the order).

    Parameters
    ----------
    key_file
        ``privacy.key_file`` of the run configuration, or None.
    create
        Create the default key file with a random key if no key is found; otherwise that
        case is an error.
    project_dir
        The project folder: a ``key_file`` inside it is refused, so the key cannot end
        up in version control next to the data it protects. Default: the working directory.

    Raises
    ------
    ConfigError
        If the key is too short, unreadable, inside the project, or missing (``create=False``).
    """
    from_env = os.environ.get(ENV_VAR, "")
    if from_env:
        if len(from_env) < MIN_KEY_LENGTH:
            raise ConfigError(f"{ENV_VAR} is set but shorter than {MIN_KEY_LENGTH} characters; use a long random value.")
        return PseudonymKey(from_env.encode("utf-8"), f"environment variable {ENV_VAR}")
    project_dir = project_dir or Path.cwd()
    if key_file is not None:
        path = Path(key_file).expanduser()
        if _inside(path, project_dir):
            raise ConfigError(
                f"privacy.key_file {path} is inside the project folder {project_dir}: keep the pseudonymisation key"
                " outside the repository (e.g. ~/.config/retention-kit/pseudonym.key) so it is never committed or"
                " shared with the reports."
            )
        return PseudonymKey(_read_key_file(path, "privacy.key_file"), f"file {path}")
    path = default_key_file()
    created = False
    if not path.exists():
        if not create:
            raise ConfigError(
                f"No pseudonymisation key: set {ENV_VAR}, or privacy.key_file, or run the pipeline once to create {path}."
            )
        created = _create_key_file(path)
    return PseudonymKey(_read_key_file(path, "default key file"), f"file {path}", created=created)


def pseudonym(customer_id: object, key: PseudonymKey) -> str:
    """``c_`` + 16 hex digits of HMAC-SHA256(key, customer id as text)."""
    digest = hmac.new(key.secret, str(customer_id).encode("utf-8"), hashlib.sha256).hexdigest()
    return PREFIX + digest[:HEX_DIGITS]


class Pseudonymiser:
    """Replace customer ids by keyed pseudonyms: ``Pseudonymiser(key)("00042") -> 'c_…'`` (16 hex digits)."""

    def __init__(self, key: PseudonymKey) -> None:
        self.key = key

    @classmethod
    def from_params(cls, privacy, *, create: bool = False, project_dir: Path | None = None) -> "Pseudonymiser":
        """From the ``privacy`` section of the run configuration (:class:`analysis.config.PrivacyParams`)."""
        return cls(load_key(privacy.key_file, create=create, project_dir=project_dir))

    def __call__(self, customer_id: object) -> str:
        return pseudonym(customer_id, self.key)

    def ids(self, customer_ids: Iterable[object]) -> list[str]:
        """Pseudonyms of ``customer_ids``, in order. Raises if two different ids share one."""
        ids = [str(c) for c in customer_ids]
        out = [self(c) for c in ids]
        if len(set(out)) != len(set(ids)):
            raise ConfigError("two customer ids got the same pseudonym; use another key (privacy.key_file or"
                              f" {ENV_VAR})")  # ~never (64 bits)
        return out

    def frame(self, df: pd.DataFrame, column: str = "customer_id") -> pd.DataFrame:
        """A copy of ``df`` with the ids pseudonymised: the index if it is named ``column``, else that column."""
        out = df.copy()
        if out.index.name == column:
            out.index = pd.Index(self.ids(out.index), name=column)
        elif column in out.columns:
            out[column] = self.ids(out[column])
        else:
            raise ValueError(f"Required column {column} missing (index {out.index.name!r}, columns {list(out.columns)})")
        return out


SPREADSHEET_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet (Excel, LibreOffice, Google Sheets) or a CRM import read a
cell as a formula (OWASP, "CSV injection")."""


def spreadsheet_safe(frame: "pd.DataFrame") -> "pd.DataFrame":
    """A copy of ``frame`` whose text cells (and text index) cannot run as formulas when the CSV is
    opened in a spreadsheet: a cell starting with ``= + - @``, a tab or a carriage return gets a
    leading apostrophe, which spreadsheets show as text and do not evaluate (``=1+1`` -> ``'=1+1``).
    Numbers are left alone (a negative number is a number, not a formula). Only the CSV files meant
    for people are written this way; the Parquet files keep every value as it is."""
    import pandas as pd

    def fix(values: pd.Series | pd.Index):
        if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)
                or isinstance(values.dtype, pd.CategoricalDtype)):
            return values
        text = values.astype("string")
        risky = text.str.startswith(SPREADSHEET_TRIGGERS).fillna(False).to_numpy(dtype=bool)
        if not risky.any():
            return values
        out = text.where(~risky, "'" + text)
        return out if isinstance(values, pd.Index) else out.astype(object).where(values.notna(), None)

    out = frame.copy()
    for column in out.columns:
        out[column] = fix(out[column])
    out.index = fix(out.index)
    if isinstance(out.index, pd.Index) and frame.index.name is not None:
        out.index.name = frame.index.name
    return out
