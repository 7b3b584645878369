"""The web UI for caseworkers and reviewers, mounted under /ui by the service app. See docs/web.md.

`mount_ui(app)` lives in bouclier.web.ui (imported lazily: this package's models are imported by the
migrations, which must not pull in FastAPI)."""
