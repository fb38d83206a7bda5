#!/usr/bin/env python3
"""Render or lint the chart with Helm's own engine (PyPI helm-python-sdk), for the
tests in tests/deploy/ (no `helm` binary is installable on CI machines).

  render.py render VALUES.yaml [RELEASE [NAMESPACE]]   JSON {template path: text} on stdout
  render.py lint [VALUES.yaml]                          JSON lint report (strict) on stdout
  render.py schema VALUES.yaml                          exit 1 and the message if refused

An empty VALUES path ("") means the chart's defaults. Exit 2 on a Helm error,
with the message on stderr.
"""
import json
import os
import sys

import helm_python as helm
import yaml

CHART = os.path.join(os.path.dirname(os.path.abspath(__file__)), "evolux-exporter")


def values(path):
    if not path:
        return {}
    with open(path) as f:
        return yaml.safe_load(f) or {}


def main(argv):
    if len(argv) < 2 or argv[1] not in ("render", "lint", "schema"):
        sys.stderr.write(__doc__)
        return 2
    cmd, rest = argv[1], argv[2:]
    try:
        if cmd == "render":
            release = rest[1] if len(rest) > 1 else "evolux-exporter"
            namespace = rest[2] if len(rest) > 2 else "monitoring"
            chart = helm.Chart.load(CHART)
            files = chart.render(values(rest[0] if rest else ""), name=release,
                                 namespace=namespace, is_install=True)
            json.dump(files, sys.stdout, indent=1, sort_keys=True)
        elif cmd == "lint":
            report = helm.lint(CHART, values(rest[0] if rest else ""), strict=True)
            json.dump(report, sys.stdout, indent=1, sort_keys=True)
        else:
            try:
                helm.Chart.load(CHART).validate_schema(values(rest[0]))
            except helm.HelmValuesError as e:
                print(e)
                return 1
    except helm.HelmError as e:
        sys.stderr.write(f"{type(e).__name__}: {e}\n")
        return 2
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
