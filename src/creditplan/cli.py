"""`creditplan` console script: the product's commands, spelled with dashes, over Django's manage.py.

Why a wrapper rather than manage.py: operators get one command on PATH whatever the working directory,
the settings module is fixed, and product commands read as `creditplan seed-demo` not `manage.py seed_demo`.
`creditplan`, `creditplan --help` and `creditplan help` list the product's commands with one line of help each.
"""

from __future__ import annotations

import os
import sys
import textwrap


def product_help() -> str:
    """The product's commands (dashed, with the first line of their help), then Django's own by name."""
    import django
    from django.core.management import get_commands, load_command_class

    django.setup()
    commands = get_commands()
    ours = sorted(name for name, app in commands.items() if app.startswith("creditplan."))
    width = max(len(name) for name in ours) + 2
    lines = ["usage: creditplan <command> [options]    (creditplan help <command>: its options)", "",
             "creditplan commands:"]
    for name in ours:
        text = (load_command_class(commands[name], name).help or "").strip()
        lines.append(f"  {name.replace('_', '-'):<{width}}{text.splitlines()[0] if text else ''}")
    django_commands = ", ".join(sorted(name for name, app in commands.items() if not app.startswith("creditplan.")))
    lines += ["", "Django's commands:", textwrap.fill(django_commands, width=100, initial_indent="  ",
                                                       subsequent_indent="  ")]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "creditplan.settings")
    if len(args) == 1 or args[1:] in (["-h"], ["--help"], ["help"]):
        sys.stdout.write(product_help() + "\n")
        return
    if len(args) > 1 and not args[1].startswith("-"):
        args[1] = args[1].replace("-", "_")
        if args[1] == "help" and len(args) > 2 and not args[2].startswith("-"):
            args[2] = args[2].replace("-", "_")
    from django.core.management import execute_from_command_line

    execute_from_command_line(args)


if __name__ == "__main__":
    main()
