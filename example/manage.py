#!/usr/bin/env python
"""Django's command-line utility for the Anymail example project.

python example/manage.py send_example --help
"""

import os
import sys
from pathlib import Path


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")
    # Lets the example run from a source checkout without installing Anymail. Appended (not
    # prepended), so an installed Anymail still wins.
    sys.path.append(str(Path(__file__).resolve().parent.parent))
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
