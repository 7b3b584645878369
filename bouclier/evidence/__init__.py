"""Evidence packages: export a case as a zip (manifest, reports, edit maps, notices, chain of custody,
optional RFC 3161 timestamp, optional age-encrypted media) and verify one. See docs/evidence.md."""

from .package import ExportError, ExportResult, export, export_case
from .verify import PackageIOError, Problem, Report, verify

__all__ = ["export", "export_case", "verify", "Report", "Problem", "ExportResult", "ExportError", "PackageIOError"]
