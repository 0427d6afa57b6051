"""`creditplan` console script: the product's commands, spelled with dashes, over Django's manage.py.

Why a wrapper rather than manage.py: operators get one command on PATH whatever the working directory,
the settings module is fixed, and product commands read as `creditplan seed-demo` not `manage.py seed_demo`.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "creditplan.settings")
    if len(args) > 1 and not args[1].startswith("-"):
        args[1] = args[1].replace("-", "_")
    from django.core.management import execute_from_command_line

    execute_from_command_line(args)


if __name__ == "__main__":
    main()
