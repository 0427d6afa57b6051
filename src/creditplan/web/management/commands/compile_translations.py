from __future__ import annotations

from pathlib import Path
from typing import Any

import polib
from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Compile the .po translation catalogues to .mo with polib (no GNU gettext needed on the machine)."

    def handle(self, *args: Any, **opts: Any) -> None:
        count = 0
        for root in settings.LOCALE_PATHS:
            for po_path in Path(root).glob("*/LC_MESSAGES/*.po"):
                po = polib.pofile(str(po_path))
                po.save_as_mofile(str(po_path.with_suffix(".mo")))
                count += 1
                if opts["verbosity"] > 0:
                    self.stdout.write(f"{po_path}: {len(po.translated_entries())} translated, "
                                      f"{len(po.untranslated_entries())} untranslated")
        if opts["verbosity"] > 0:
            self.stdout.write(self.style.SUCCESS(f"compiled {count} catalogue(s)"))
