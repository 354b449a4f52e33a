"""``python -m dcm_otel.alerts``: render the Prometheus rules from a thresholds file (needs PyYAML).

python -m dcm_otel.alerts render [--thresholds thresholds.yml] [--out deploy/prometheus/rules] [--check]
python -m dcm_otel.alerts defaults > thresholds.yml
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from dcm_otel.alerts import render
from dcm_otel.alerts.yamlio import dump, load


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dcm_otel.alerts", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    rendering = commands.add_parser("render", help="write the alerting and recording rule files")
    rendering.add_argument("--thresholds", type=Path, help="YAML thresholds file (default: all defaults)")
    rendering.add_argument("--out", type=Path, default=Path("."), help="directory for the two rule files")
    rendering.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if the files in --out differ"
    )
    commands.add_parser("defaults", help="print a thresholds file holding every default")
    args = parser.parse_args(argv)

    if args.command == "defaults":
        sys.stdout.write(dump(render.defaults()))
        return 0
    try:
        thresholds = load(args.thresholds.read_text()) if args.thresholds else None
        files = {
            render.ALERTS_FILE: dump(render.alert_rules(thresholds)),
            render.RECORDING_FILE: dump(render.recording_rules(thresholds)),
        }
    except (render.ThresholdsError, OSError) as error:
        print(f"dcm_otel.alerts: {error}", file=sys.stderr)
        return 2
    stale = []
    for name, text in files.items():
        path = args.out / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
            continue
        args.out.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path}")
    if stale:
        print(f"dcm_otel.alerts: out of date (re-run render): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
