"""`python -m bouclier.service serve|keys|db|audit` (the same commands `bouclier` mounts)."""

from .cli import main_app

main_app()(prog_name="bouclier")
