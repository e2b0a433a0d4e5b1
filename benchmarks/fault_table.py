"""Run the fault-injection suite and print its cases as markdown tables (docs/reliability.md).

    python benchmarks/fault_table.py [--out FILE] [pytest args...]

Every case of ``tests/test_faults_*.py`` is one row: the case, the exit code the CLI gave and its one
error line (temporary paths shortened), grouped by fault class; the last line counts the cases tried
and handled (passed). The outcomes come from ``tests/faultkit.py`` (``$FAULT_TABLE_LOG``).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: fault class of a test function (by name), else of its file
CLASSES = {
    "test_faults_config.py": "config keys and values",
    "test_faults_data.py": "malformed data",
    "test_faults_property.py": "malformed data and configs (property-based, hypothesis)",
    "test_faults_signals.py": "signals and concurrent writers",
    "test_faults_rundir.py": "run-directory states",
}
BY_NAME = [
    (("flipped", "damaged", "malicious", "sealed", "changed_data", "another_data", "valid_split"),
     "checkpoints: corrupted and mismatched"),
    (("read_only", "disk_full", "output_target", "parent_of_out", "out_is_a_file", "umask"), "filesystem errors"),
    (("divergence", "internal_error", "failed_run", "out_of_memory"), "divergence, memory and internal errors"),
    (("bad_genotype",), "config keys and values"),
]


def _class(path: str, name: str) -> str:
    for keys, cls in BY_NAME:
        if any(k in name for k in keys):
            return cls
    return CLASSES.get(Path(path).name, Path(path).stem)


def _short(line: str) -> str:
    line = re.sub(r"/[^\s:'()]*/pytest-\d+/[^/\s:]+", "TMP", line)
    line = line.replace("darts-gnn: error: ", "")
    return line.replace("|", "\\|")[:240]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="also write the markdown here")
    args, pytest_args = ap.parse_known_args()
    with tempfile.TemporaryDirectory() as tmp:
        log, xml = Path(tmp) / "log.jsonl", Path(tmp) / "junit.xml"
        env = dict(os.environ, FAULT_TABLE_LOG=str(log))
        files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_faults_*.py"))
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={xml}",
                        *files, *pytest_args], cwd=ROOT, env=env, check=False)
        outcomes = defaultdict(list)
        if log.exists():
            for rec in map(json.loads, log.read_text().splitlines()):
                outcomes[rec["test"]].append(rec)
        rows = defaultdict(list)
        tried = handled = 0
        for case in ET.parse(xml).getroot().iter("testcase"):
            if case.find("skipped") is not None:
                continue
            ok = case.find("failure") is None and case.find("error") is None
            tried += 1
            handled += ok
            file = case.get("file") or case.get("classname", "").replace(".", "/") + ".py"
            name = case.get("name")
            test_id = f"{Path(file).name}::{name}"
            recs = next((v for k, v in outcomes.items() if k.endswith(test_id)), [])
            codes = ", ".join(str(r["rc"]) for r in recs) or "—"
            msg = "<br>".join(_short(r["line"]) for r in recs if r["line"]) or "(library level: see the test)"
            rows[_class(file, name)].append((name, codes, msg, "yes" if ok else "**no**"))
    out = ["| class | cases tried | handled |", "|---|---|---|"]
    out += [f"| {cls} | {len(rows[cls])} | {sum(r[3] == 'yes' for r in rows[cls])} |" for cls in sorted(rows)]
    out += [f"| **all** | **{tried}** | **{handled}** |", ""]
    for cls in sorted(rows):
        out += [f"### {cls} ({len(rows[cls])} cases)", "", "| case | exit | message | handled |",
                "|---|---|---|---|"]
        out += [f"| `{n}` | {c} | {m} | {h} |" for n, c, m, h in rows[cls]]
        out.append("")
    out.append(f"**{tried} cases tried, {handled} handled.**")
    text = "\n".join(out)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0 if tried == handled else 1


if __name__ == "__main__":
    sys.exit(main())
