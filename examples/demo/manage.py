#!/usr/bin/env python3
"""Django's command-line utility for the demo project (run_demo.py drives it; it also works by hand)."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
