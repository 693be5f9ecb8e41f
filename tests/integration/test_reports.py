"""hilctl report: hand-made journals (docs/journal.md) with hostile console text
and a few verdicts go in; report.xml, report.tap, summary.json and report.html
come out and must validate with real parsers (xml.etree, junitparser, json,
html.parser, yaml for TAP's YAML blocks). Then the gate's exit codes, bad and
cut journals, and merging shards with attempts, a partial and a missing one."""
import datetime
import json
import os
import pathlib
import re
import stat
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import yaml
from junitparser import JUnitXml, Properties

sys.path.insert(0, str(pathlib.Path(__file__).parent / "data"))
from journal_fixtures import Timeline, bytes_field  # noqa: E402

# Console bytes a board may send; each must come out escaped and valid.
HOSTILE = [
    b"\x00NUL\x01\x07bell\x1b[31mred\x1b[0m\x7f",
    b"]]> CDATA end",
    b"</script><script>alert(1)</script>",
    b"<img src=x onerror=alert(1)>",
    b"\xff\xfe\xc3\x28 invalid UTF-8 \xed\xa0\x80 surrogate",
    b"&amp; &lt; & < > \" ' \\ backslash",
    b"# TODO not a directive \\# SKIP",
    b"\r\n---\n...\nnot a YAML end",
    b"line\xe2\x80\xa8separator \xef\xbb\xbfbom \xc2\x85nel",
    "UTF-8 board text: Größe 温度 ✓".encode(),
]
HOSTILE_ALL = b" | ".join(HOSTILE)

SCENARIO_HOSTILE = 'cut-<b>"&amp;\'-write'


def campaign(cid="camp-1", shard=(0, 1, 1), runs_planned=None, scenarios=None, resumed=False):
    rec = {"format": 1, "id": cid, "hilctl_version": "test", "started": "2026-11-25T01:00:00.000Z",
           "host": "lab-host-1", "lab": "fixtures/lab-qemu.yaml", "boards": ["qemu-01"],
           "scenarios": scenarios or [], "seed": 42,
           "shard": {"index": shard[0], "count": shard[1], "attempt": shard[2]}}
    if runs_planned is not None:
        rec["runs_planned"] = runs_planned
    if resumed:
        rec["resumed"] = True
    return json.dumps({"campaign": rec})


def run(run_id, scenario, point, verdict, allowed=("upgraded", "rolled_back"), reason=b"ok",
        evidence=(), timeline=None, board="qemu-01", key=None):
    body = {"id": run_id, "key": key or "%s/point=%s" % (scenario, point), "scenario": scenario,
            "board": board, "seed": 42, "point": point,
            "fault": {"kind": "power_cut", "trigger": "marker 'write' + " + point, "injected": True,
                      "at_s": 1.5, "latency_us": 300, "phase": "write"},
            "verdict": verdict, "allowed": list(allowed),
            "pass": verdict in allowed and verdict != "infra_error",
            "reason": "@R@", "evidence": "@E@", "started": "2026-11-25T01:00:%02d.000Z" % run_id,
            "duration_s": 10.0 + run_id, "reproduce": "hilctl run x --point %s" % point}
    if timeline:
        body["timeline"] = timeline
    ev = "[" + ",".join('{"t":%.3f,"k":"con","d":%s}' % (t, bytes_field(d))
                        for t, d in evidence) + "]"
    return json.dumps({"run": body}).replace('"@R@"', bytes_field(reason)).replace('"@E@"', ev)


def end(complete=True, runs_done=0):
    return json.dumps({"end": {"finished": "2026-11-25T02:00:00.000Z", "runs_done": runs_done,
                               "complete": complete, "interrupted": None if complete else "SIGTERM"}})


def write_journal(d, lines, name="journal.jsonl"):
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_text("\n".join(lines) + "\n")
    return d / name


def hostile_timeline(d, rel):
    tl = Timeline(str(d / rel), "qemu-01")
    tl.rec("power", "on")
    for i, line in enumerate(HOSTILE):
        tl.con(line, 0.1)
        if i == 3:
            tl.rec("marker", b"marker <script>x</script>", 0.0)
    tl.rec("fault", "power_cut", 0.1)
    tl.rec("power", "off", 0.0)
    tl.rec("net", "down", 0.1)
    tl.rec("net", "up", 0.5)
    tl.rec("power", "on", 0.5)
    tl.con(HOSTILE_ALL, 0.1)
    tl.close()


def hostile_campaign(d):
    """Five runs: upgraded, rolled_back, bricked (hostile), hung, infra_error."""
    for n in range(1, 6):
        hostile_timeline(d, "runs/%04d/timeline.jsonl" % n)
    lines = [campaign(scenarios=["cut-during-download", SCENARIO_HOSTILE]),
             run(1, "cut-during-download", "100ms", "upgraded", timeline="runs/0001/timeline.jsonl"),
             run(2, "cut-during-download", "200ms", "rolled_back",
                 timeline="runs/0002/timeline.jsonl"),
             run(3, SCENARIO_HOSTILE, "300ms", "bricked", reason=HOSTILE_ALL,
                 evidence=[(0.1 * i, h) for i, h in enumerate(HOSTILE)],
                 timeline="runs/0003/timeline.jsonl", board="qemu-<01>&"),
             run(4, SCENARIO_HOSTILE, "400ms", "hung", reason=b"<img src=x onerror=alert(1)>",
                 timeline="runs/0004/timeline.jsonl"),
             run(5, SCENARIO_HOSTILE, "500ms", "infra_error", reason=b"QEMU died ]]>",
                 timeline="runs/0005/timeline.jsonl"),
             json.dumps({"window": {"scenario": SCENARIO_HOSTILE, "board": "qemu-01",
                                    "last_pass": "250ms", "first_fail": "300ms",
                                    "verdict": "bricked", "runs": 3}}),
             end(runs_done=5)]
    write_journal(d, lines)
    return d


# ---- validators ------------------------------------------------------------------------------

def check_junit(path, tests, failures, errors):
    raw = path.read_bytes()
    raw.decode("utf-8")  # strict: valid UTF-8
    text = raw.decode()
    for bad in ("<img", "<script", "]]>", "<![CDATA["):
        assert bad not in text, bad
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", text), "control character in XML"
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    assert int(root.get("tests")) == tests
    xml = JUnitXml.fromfile(str(path))
    cases = [case for suite in xml for case in suite]
    assert len(cases) == tests
    kinds = [type(r).__name__ for case in cases for r in case.result]
    assert kinds.count("Failure") == failures
    assert kinds.count("Error") == errors
    return root, cases


def case_properties(case):
    """A testcase's <properties> (Jenkins reads them; junitparser 2.8 has no getter)."""
    props = case.child(Properties)
    return {p.name: p.value for p in props} if props is not None else {}


class Tags(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.attrs, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend((tag, k, v) for k, v in attrs)

    def handle_data(self, data):
        self.text.append(data)


def check_html(path):
    raw = path.read_bytes().decode("utf-8")  # strict
    p = Tags()
    p.feed(raw)
    p.close()
    for tag in ("script", "img", "iframe", "object", "embed", "link", "base", "form"):
        assert tag not in p.tags, tag
    assert p.tags.count("style") == 1
    for tag, name, value in p.attrs:
        assert not name.startswith("on"), (tag, name, value)
        assert name not in ("src", "srcset", "xlink:href"), (tag, name)
        if name == "href":
            assert value.startswith("#"), value  # nothing fetched, only in-page links
    # Every onerror= in the file is escaped text, never markup.
    for m in re.finditer("onerror=", raw):
        assert raw[max(0, m.start() - 15):m.start()].endswith("&lt;img src=x "), raw[m.start() - 40:m.end()]
    assert "Content-Security-Policy" in raw and "default-src 'none'" in raw
    for svg in re.findall(r"<svg.*?</svg>", raw, re.S):  # HTML inside SVG breaks out of it
        assert not re.search(r"<(span|b|div|p|br|code|pre)\b", svg), svg[:200]
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", raw)
    return p, raw


def check_tap(path):
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[0] == "TAP version 13"
    m = re.fullmatch(r"1\.\.(\d+)", lines[1])
    assert m, lines[1]
    planned, numbers, oks, not_oks, blocks, i = int(m.group(1)), [], 0, 0, 0, 2
    while i < len(lines):
        line = lines[i]
        t = re.match(r"(ok|not ok) (\d+) - (.*)$", line)
        if t:
            numbers.append(int(t.group(2)))
            oks += t.group(1) == "ok"
            not_oks += t.group(1) == "not ok"
            assert not re.search(r"(?<!\\)#", t.group(3)), "unescaped # in " + line
        elif line == "  ---":
            end = lines.index("  ...", i)
            doc = yaml.safe_load("\n".join(l[2:] for l in lines[i + 1:end]))
            assert isinstance(doc, dict) and "severity" in doc
            blocks += 1
            i = end
        else:
            assert line == "" or line.startswith("# "), "stray line: %r" % line
        i += 1
    assert numbers == list(range(1, planned + 1))
    return oks, not_oks, blocks


# ---- tests ---------------------------------------------------------------------------------

def test_report_hostile_console_text_stays_escaped_and_valid(hilctl, tmp_path):
    d = hostile_campaign(tmp_path / "camp")
    r = hilctl("report", d)
    assert r.returncode == 1, r.stderr  # a board failure: the gate fails
    assert "gate: FAIL" in r.stdout

    root, cases = check_junit(d / "report.xml", tests=5, failures=2, errors=1)
    bricked = [c for c in cases if c.name == "point=300ms"][0]
    assert bricked.classname == SCENARIO_HOSTILE
    assert case_properties(bricked)["board"] == "qemu-<01>&"
    text = bricked.result[0].text
    assert "<img src=x onerror=alert(1)>" in text  # carried as text, not markup
    assert "</script>" in text and "]]>" in text
    assert "\u2400NUL" in text  # NUL shown as a control picture
    assert "Größe 温度 ✓" in text  # the board's UTF-8 survives
    assert "console (last" in text  # the excerpt from the run's timeline
    assert bricked.result[0].type == "bricked"

    summary = json.loads((d / "summary.json").read_text(encoding="utf-8"))
    assert "</script" not in (d / "summary.json").read_text()
    assert summary["gate"]["decision"] == "fail"
    assert summary["gate"]["exit_code"] == 1
    assert summary["counts"] == {"upgraded": 1, "rolled_back": 1, "bricked": 1, "boot_loop": 0,
                                 "hung": 1, "inconsistent": 0, "infra_error": 1}
    assert summary["scenarios"][SCENARIO_HOSTILE]["failures"] == 2
    assert summary["windows"][0]["first_fail"] == "300ms"
    assert summary["gate"]["upper_bound_95"] is None
    run3 = [x for x in summary["runs"] if x["point"] == "300ms"][0]
    assert "<img src=x onerror=alert(1)>" in run3["reason"]
    assert "\x00" not in run3["reason"]

    oks, not_oks, blocks = check_tap(d / "report.tap")
    assert (oks, not_oks, blocks) == (2, 3, 3)

    parser, raw = check_html(d / "report.html")
    text = "".join(parser.text)
    assert "<img src=x onerror=alert(1)>" in text  # visible as text to the reader
    assert "FAIL" in text and "Outcome map" in text


# Console lines that broke Perl's YAMLish reader (prove): a first word ending
# in ": " made it read a list item as a hash with a quoted key.
CONSOLE_FOR_PROVE = [
    b"DRAM:  256 MiB",
    b"key: value: more: ",
    b"  : leading blanks then a colon",
    b'say "hi": now "quoted: too"',
    b'"quoted key": value',
    b"C:\\path\\to\\file: ok \\\\ \\\" \\x41 \\n \\",
    b"ctl: \x00\x07\x1b[31mred\x1b[0m\x7f\ttab\x0b\x0c\r",
    b"bad: \xff\xfe bytes \xc3\x28 \xed\xa0\x80",
    b"- list: item",
    b"# comment: not",
    b"...",
    b"---",
    b"",
]

# TAP::Parser (what prove runs) reads the file; its YAML blocks come out as JSON.
PERL_TAP_YAML = r"""
use strict; use warnings; use TAP::Parser; use JSON::PP;
open(my $fh, '<:raw', $ARGV[0]) or die "$ARGV[0]: $!";
my $tap = do { local $/; <$fh> };
my $p = TAP::Parser->new({tap => $tap});
my @yaml;
while (my $r = $p->next) { push @yaml, $r->data if $r->is_yaml; }
print JSON::PP->new->canonical->encode({yaml => \@yaml, errors => [$p->parse_errors],
    run => scalar $p->tests_run, planned => scalar $p->tests_planned,
    failed => [$p->failed]});
"""


def test_report_tap_is_read_by_prove(hilctl, tmp_path):
    d = tmp_path / "camp"
    tl = Timeline(str(d / "runs/0002/timeline.jsonl"), "qemu-01")
    for line in CONSOLE_FOR_PROVE:
        tl.con(line)
    tl.close()
    colon_reason = b'U-Boot: "boot.scr": not found: \\ \xff\x1b'
    write_journal(d, [campaign(), run(1, "s", "1ms", "upgraded"),
                      run(2, "s", "2ms", "bricked", reason=colon_reason,
                          evidence=[(1.0, b"DRAM:  256 MiB"), (2.0, b"=> ")],
                          timeline="runs/0002/timeline.jsonl"),
                      run(3, "s", "3ms", "infra_error", reason=b"QMP: closed: \"x\""),
                      run(4, "s", "4ms", "rolled_back"), end()])
    r = hilctl("report", "--excerpt-lines", "200", d)
    assert r.returncode == 1, r.stdout + r.stderr
    tap = d / "report.tap"

    proved = subprocess.run(["prove", "--source", "File", str(tap)], capture_output=True,
                            text=True, timeout=60)
    out = proved.stdout + proved.stderr
    assert "Parse errors" not in out and "Bad plan" not in out, out
    assert re.search(r"Tests: 4 Failed: 2\)", out), out
    assert "Failed tests:  2-3" in out, out

    perl = subprocess.run(["perl", "-e", PERL_TAP_YAML, str(tap)], capture_output=True,
                          timeout=60)
    assert perl.returncode == 0, perl.stderr
    seen = json.loads(perl.stdout.decode("utf-8"))
    assert seen["errors"] == [] and seen["run"] == 4 and seen["planned"] == 4
    assert seen["failed"] == [2, 3]
    # Both readers take the same values from the same blocks.
    lines = tap.read_text(encoding="utf-8").split("\n")
    starts = [i for i, l in enumerate(lines) if l == "  ---"]
    py = [yaml.safe_load("\n".join(l[2:] for l in lines[i + 1:lines.index("  ...", i)]))
          for i in starts]
    assert len(py) == len(seen["yaml"]) == 2
    for perl_doc, py_doc in zip(seen["yaml"], py):
        for key in ("message", "scenario", "board", "point", "evidence", "console", "reproduce"):
            assert perl_doc.get(key) == py_doc.get(key), key
    console = seen["yaml"][0]["console"]
    assert len(console) == len(CONSOLE_FOR_PROVE)
    for want in ("DRAM:  256 MiB", "key: value: more: ", "  : leading blanks then a colon",
                 'say "hi": now "quoted: too"', '"quoted key": value',
                 'C:\\path\\to\\file: ok \\\\ \\" \\x41 \\n \\', "- list: item",
                 "# comment: not", "...", "---", ""):
        assert want in console, want
    assert "bad: \ufffd\ufffd bytes \ufffd( \ufffd\ufffd\ufffd" in console
    assert "ctl: \u2400\u2407\u241b[31mred\u241b[0m\u2421\ttab\u240b\u240c\u240d" in console
    assert seen["yaml"][0]["message"] == 'U-Boot: "boot.scr": not found: \\ \ufffd\u241b'
    assert seen["yaml"][0]["evidence"][0] == "1.000 con DRAM:  256 MiB"
    assert seen["yaml"][1]["message"] == 'QMP: closed: "x"'
    assert check_tap(tap) == (2, 2, 2)


def junit_history(path):
    """What a CI server keys a test's history by: (classname, name), per case."""
    return [(case.classname, case.name) for suite in JUnitXml.fromfile(str(path)) for case in suite]


def test_report_junit_identity_stays_across_boards_and_repeats(hilctl, tmp_path):
    """The same campaign on two boards (another rack, another night) is the
    same tests to GitLab and Jenkins; --repeat gives each repeat its own name."""
    points = ["100ms", "200ms", "300ms"]
    reports = []
    for board, verdict in (("rpi4-03", "upgraded"), ("bbb-02", "bricked")):
        d = tmp_path / board
        lines = [campaign(scenarios=["cut-write", "cut-flip"])]
        n = 0
        for scenario in ("cut-write", "cut-flip"):
            for p in points:
                for rep in (1, 2, 3):
                    n += 1
                    key = "%s/point=%s%s" % (scenario, p, "#%d" % rep if rep > 1 else "")
                    lines.append(run(n, scenario, p, verdict if rep == 2 else "rolled_back",
                                     board=board, key=key))
        write_journal(d, lines + [end(runs_done=n)])
        hilctl("report", d)
        reports.append(d / "report.xml")
    first, second = junit_history(reports[0]), junit_history(reports[1])
    assert len(first) == 18 and len(set(first)) == 18  # unique within a file
    assert set(first) == set(second)  # and the same tests in both campaigns' history
    assert ("cut-flip", "point=200ms #3") in first
    for path, board in zip(reports, ("rpi4-03", "bbb-02")):
        for suite in JUnitXml.fromfile(str(path)):
            for case in suite:
                props = case_properties(case)
                assert props["board"] == board
                assert props["repeat"] == (case.name.split("#")[1] if "#" in case.name else "1")
                assert "board: %s" % board in case.system_out
    _, cases = check_junit(reports[1], tests=18, failures=6, errors=0)
    failed = [c for c in cases if c.result]
    assert all(c.name.endswith(" #2") for c in failed)
    assert failed[0].result[0].message.startswith("bricked on bbb-02: ")


RED, GREEN, TEAL = "#cf222e", "#1a7f37", "#0a7ea4"


def test_report_html_paints_runs_by_pass_or_fail(hilctl, tmp_path):
    """A scenario that must roll back: its upgraded run failed and is red, with
    "upgraded" in words; its rolled_back run passed."""
    d = tmp_path / "camp"
    write_journal(d, [campaign(scenarios=["must-roll-back"]),
                      run(1, "must-roll-back", "1ms", "upgraded", allowed=("rolled_back",)),
                      run(2, "must-roll-back", "2ms", "rolled_back", allowed=("rolled_back",)),
                      run(3, "must-roll-back", "3ms", "upgraded", allowed=("upgraded",)),
                      end(runs_done=3)])
    assert hilctl("report", d).returncode == 1
    _, raw = check_html(d / "report.html")
    runs_ = {p: (c, v) for c, v, p in re.findall(
        r'<details class="run[^"]*" id="run-\d+" style="--vc:(#\w+)"[^>]*><summary>'
        r'<span class="vtag" style="--vc:\1">(\w+)</span><span>must-roll-back</span>'
        r'<span class="mono">qemu-01 @ (\w+)', raw)}
    assert runs_ == {"1ms": (RED, "upgraded"), "2ms": (TEAL, "rolled_back"),
                     "3ms": (GREEN, "upgraded")}, runs_
    cells = dict((p, c) for c, p in re.findall(
        r'<rect [^>]*fill="(#\w+)"[^>]*><title>must-roll-back \u00b7 qemu-01 @ (\w+)', raw))
    assert cells == {"1ms": RED, "2ms": TEAL, "3ms": GREEN}, cells


def test_report_gate_passes_with_upper_bound(hilctl, tmp_path):
    d = tmp_path / "camp"
    lines = [campaign()] + [run(i, "s", "%dms" % i, "upgraded") for i in range(1, 60)] + [end()]
    write_journal(d, lines)
    r = hilctl("report", d)
    assert r.returncode == 0, r.stdout + r.stderr
    summary = json.loads((d / "summary.json").read_text())
    assert summary["gate"]["decision"] == "pass"
    assert abs(summary["gate"]["upper_bound_95"] - (1 - 0.05 ** (1 / 59))) < 1e-9
    check_junit(d / "report.xml", tests=59, failures=0, errors=0)
    assert check_tap(d / "report.tap") == (59, 0, 0)
    check_html(d / "report.html")


def test_report_infra_only_exits_3(hilctl, tmp_path):
    d = tmp_path / "camp"
    write_journal(d, [campaign(), run(1, "s", "1ms", "upgraded"), run(2, "s", "2ms", "infra_error"),
                      end()])
    r = hilctl("report", d)
    assert r.returncode == 3, r.stdout + r.stderr
    assert json.loads((d / "summary.json").read_text())["gate"]["decision"] == "infra_error"


def test_report_killed_campaign_is_partial_and_last_cut_line_ignored(hilctl, tmp_path):
    d = tmp_path / "camp"
    d.mkdir()
    text = "\n".join([campaign(), run(1, "s", "1ms", "upgraded"), run(2, "s", "2ms", "upgraded")])
    (d / "journal.jsonl").write_text(text + "\n" + run(3, "s", "3ms", "bricked")[:57])
    r = hilctl("report", d)
    assert r.returncode == 3, r.stdout + r.stderr  # no end record: partial, not a pass
    assert "journal.jsonl:4: the last line has no newline" in r.stderr
    summary = json.loads((d / "summary.json").read_text())
    assert summary["gate"]["runs"] == 2
    assert summary["shards"][0]["status"] == "partial"


def test_report_no_runs_fails(hilctl, tmp_path):
    d = tmp_path / "camp"
    write_journal(d, [campaign(), end()])
    assert hilctl("report", d).returncode == 1


def test_report_garbage_is_refused_with_file_and_line(hilctl, tmp_path):
    d = tmp_path / "camp"
    write_journal(d, [campaign(), run(1, "s", "1ms", "upgraded"), "{not json", run(2, "s", "2ms",
                  "exploded"), json.dumps({"run": {"key": 1}}), end()])
    r = hilctl("report", d)
    assert r.returncode == 2
    assert "journal.jsonl:3: not a JSON record" in r.stderr
    assert 'journal.jsonl:4: run: "verdict": "exploded" is not one of upgraded' in r.stderr
    assert 'journal.jsonl:5: run: "key" must be a string' in r.stderr
    assert not (d / "report.xml").exists()


def test_report_refuses_a_file_that_is_not_a_journal(hilctl, tmp_path):
    d = tmp_path / "camp"
    write_journal(d, [json.dumps({"run": {}}), end()])
    r = hilctl("report", d)
    assert r.returncode == 2
    assert 'journal.jsonl:1: the first record must be "campaign"' in r.stderr
    r = hilctl("report", tmp_path / "nowhere")
    assert r.returncode == 2 and "nowhere" in r.stderr


def test_report_usage_errors(hilctl, tmp_path):
    a = write_journal(tmp_path / "a", [campaign(), end()]).parent
    b = write_journal(tmp_path / "b", [campaign(), end()]).parent
    assert hilctl("report").returncode == 2
    r = hilctl("report", a, b)
    assert r.returncode == 2 and "--merge" in r.stderr
    r = hilctl("report", "--merge", a, b)
    assert r.returncode == 2 and "--out" in r.stderr
    assert hilctl("report", "--console-lines", "x", a).returncode == 2
    r = hilctl("report", "--help")
    assert r.returncode == 0 and "--merge" in r.stdout


def test_report_out_dir_and_missing_timeline(hilctl, tmp_path):
    d = tmp_path / "camp"
    write_journal(d, [campaign(), run(1, "s", "1ms", "bricked", timeline="runs/gone/timeline.jsonl"),
                      run(2, "s", "2ms", "upgraded", timeline="../../etc/passwd"), end()])
    out = tmp_path / "out"
    r = hilctl("report", "--out", out, d / "journal.jsonl")
    assert r.returncode == 1, r.stderr
    assert "is not a path inside the campaign directory" in r.stderr
    for name in ("report.xml", "report.tap", "summary.json", "report.html"):
        assert (out / name).exists()
    assert not (d / "report.xml").exists()
    _, raw = check_html(out / "report.html")
    assert "could not be read" in raw
    assert "root:" not in raw


def shard_lines(cid, index, count, attempt, keys, complete=True, verdict="upgraded"):
    lines = [campaign(cid, shard=(index, count, attempt))]
    lines += [run(k, "s", "%dms" % k, verdict) for k in keys]
    if complete is not None:
        lines.append(end(complete=complete, runs_done=len(keys)))
    return lines


def test_report_merge_counts_each_run_once_and_names_missing_shards(hilctl, tmp_path):
    # Campaign of 4 shards; shard 0 ran twice (attempt 1 cut short, attempt 2
    # complete), shard 1 once, shard 2 was killed (no end), shard 3 never ran.
    host_a, host_b = tmp_path / "host-a", tmp_path / "host-b"
    write_journal(host_a, shard_lines("camp-x", 0, 4, 1, [1, 2], complete=None),
                  "journal-s0-a1.jsonl")
    write_journal(host_b, shard_lines("camp-x", 0, 4, 2, [1, 2, 3]), "journal-s0-a2.jsonl")
    write_journal(host_b, shard_lines("camp-x", 1, 4, 1, [4, 5, 6]), "journal-s1-a1.jsonl")
    write_journal(host_a, shard_lines("camp-x", 2, 4, 1, [7, 8], complete=None),
                  "journal-s2-a1.jsonl")
    out = tmp_path / "merged"
    r = hilctl("report", "--merge", "--out", out, host_a, host_b, host_b / "journal-s1-a1.jsonl")
    assert r.returncode == 3, r.stdout + r.stderr  # no board failed; the lab's part is missing
    summary = json.loads((out / "summary.json").read_text())
    keys = [x["key"] for x in summary["runs"]]
    assert sorted(keys) == sorted("s/point=%dms" % k for k in range(1, 9))  # once each
    shards = {s["index"]: s for s in summary["shards"]}
    assert shards[0]["status"] == "complete" and shards[0]["attempt"] == 2
    assert shards[0]["attempts"] == 2
    assert shards[1]["status"] == "complete"
    assert shards[2]["status"] == "partial" and shards[2]["runs"] == 2
    assert shards[3]["status"] == "missing"
    reasons = " ".join(summary["gate"]["reasons"])
    assert "shard 3/4 of campaign camp-x: missing" in reasons
    assert "shard 2/4 of campaign camp-x: partial" in reasons
    assert summary["gate"]["decision"] == "infra_error"
    # CI sees the missing and partial shards as errors.
    _, cases = check_junit(out / "report.xml", tests=10, failures=0, errors=2)
    assert {c.name for c in cases if c.classname == "hilctl.shards"} == {
        "campaign camp-x shard 2/4", "campaign camp-x shard 3/4"}
    assert check_tap(out / "report.tap") == (8, 2, 2)
    check_html(out / "report.html")


def test_report_merge_board_failure_beats_missing_shard(hilctl, tmp_path):
    write_journal(tmp_path / "a", shard_lines("c", 0, 2, 1, [1, 2], verdict="bricked"))
    r = hilctl("report", "--merge", "--out", tmp_path / "out", tmp_path / "a")
    assert r.returncode == 1, r.stdout + r.stderr


def test_report_merge_refuses_disagreeing_shard_counts(hilctl, tmp_path):
    write_journal(tmp_path / "a", shard_lines("c", 0, 2, 1, [1]))
    write_journal(tmp_path / "b", shard_lines("c", 1, 3, 1, [2]))
    r = hilctl("report", "--merge", "--out", tmp_path / "out", tmp_path / "a", tmp_path / "b")
    assert r.returncode == 2
    assert 'campaign "c" is split in 3 shards here but in 2' in r.stderr


def test_report_resumed_campaign_counts_runs_once(hilctl, tmp_path):
    d = tmp_path / "camp"
    write_journal(d, [campaign(), run(1, "s", "1ms", "upgraded"), end(complete=False),
                      campaign(resumed=True), run(2, "s", "2ms", "rolled_back"),
                      run(3, "s", "1ms", "upgraded", key="s/point=1ms"), end()])
    r = hilctl("report", d)
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'run "s/point=1ms" again at line' in r.stderr
    assert json.loads((d / "summary.json").read_text())["gate"]["runs"] == 2


def test_report_of_a_real_campaign_on_qemu_validates(hilctl, tmp_path):
    """End to end: the campaign runner's own journal and timeline (one run of
    the reference board on QEMU), then every report checked by the parsers."""
    root = pathlib.Path(__file__).resolve().parents[2]
    subprocess.run(["make", "-C", str(root), "refdut"], check=True, timeout=3600,
                   stdout=subprocess.DEVNULL)
    out = tmp_path / "out"
    r = hilctl("--lab", root / "fixtures" / "lab-qemu.yaml", "run",
               root / "scenarios" / "cut-write.yaml", "--point", "9437184", "--out", out,
               timeout=300)
    assert r.returncode == 0, r.stderr
    r = hilctl("report", "--out", tmp_path / "reports", out)
    assert r.returncode == 0, r.stdout + r.stderr
    rep = tmp_path / "reports"
    check_junit(rep / "report.xml", tests=1, failures=0, errors=0)
    assert check_tap(rep / "report.tap") == (1, 0, 0)
    summary = json.loads((rep / "summary.json").read_text())
    assert summary["gate"]["decision"] == "pass"
    assert summary["runs"][0]["verdict"] == "rolled_back"
    assert summary["runs"][0]["latency_us"] is not None
    _, raw = check_html(rep / "report.html")
    assert "Console log" in raw and "U-Boot" in raw  # the timeline was found and drawn


def iso(t):
    return datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def test_report_times_of_a_real_campaign_on_a_simulated_board(hilctl, hilctl_bin, tmp_path):
    """The campaign runner's own journal (two runs on a simulated board, no
    QEMU): each run starts when it started, not when its record was written,
    and the campaign lasts no longer than the process that ran it."""
    from simlab import SIM_SCENARIO, SimLab, lab_file
    sim = SimLab(tmp_path, [{"name": "sim-01", "console": "tcp"}])
    try:
        lab = lab_file(tmp_path / "lab.yaml", sim)
        out = tmp_path / "out"
        t0 = time.time()
        r = hilctl("--lab", lab, "run", SIM_SCENARIO, "--sweep", "0,2097152", "--out", out,
                   timeout=120)
        elapsed = time.time() - t0
    finally:
        sim.stop()
    assert r.returncode == 0, r.stderr
    records = [json.loads(l) for l in (out / "journal.jsonl").read_text().splitlines()]
    head = records[0]["campaign"]
    runs_ = [rec["run"] for rec in records if "run" in rec]
    assert len(runs_) == 2
    for rec in runs_:  # the journal itself
        assert abs(iso(rec["finished"]) - iso(rec["started"]) - rec["duration_s"]) < 0.01
        assert iso(rec["started"]) >= iso(head["started"]) - 0.01
    assert iso(runs_[1]["started"]) >= iso(runs_[0]["finished"]) - 0.01  # one board: in turn

    r = hilctl("report", out)
    assert r.returncode == 0, r.stdout + r.stderr
    summary = json.loads((out / "summary.json").read_text())
    for rec, got in zip(runs_, summary["runs"]):
        assert abs(iso(got["started"]) - iso(rec["started"])) < 0.002
        assert abs(iso(got["finished"]) - iso(rec["finished"])) < 0.002
    assert summary["run_time_s"] - 0.01 <= summary["duration_s"] <= elapsed + 0.01
    html = (out / "report.html").read_text()
    assert "started " + runs_[0]["started"] in html

    # The scenario's description goes into the journal and is shown.
    about = yaml.safe_load(SIM_SCENARIO.read_text())["description"]
    assert head["descriptions"] == {"sim-cut": about}
    assert summary["scenarios"]["sim-cut"]["description"] == about
    parser, _ = check_html(out / "report.html")
    assert about in "".join(parser.text)


def test_report_shows_scenario_descriptions(hilctl, tmp_path):
    d = tmp_path / "camp"
    lines = [campaign(scenarios=["cut-write", "cut-flip"])]
    head = json.loads(lines[0])
    head["campaign"]["descriptions"] = {"cut-write": "Power cut while the agent writes <b>B</b>.",
                                        "cut-flip": ""}
    write_journal(d, [json.dumps(head), run(1, "cut-write", "1ms", "bricked"),
                      run(2, "cut-flip", "2ms", "upgraded"), end()])
    assert hilctl("report", d).returncode == 1
    summary = json.loads((d / "summary.json").read_text())
    assert summary["scenarios"]["cut-write"]["description"] == \
        "Power cut while the agent writes <b>B</b>."
    assert summary["scenarios"]["cut-flip"]["description"] is None
    _, raw = check_html(d / "report.html")
    assert '<p class="scdesc">Power cut while the agent writes &lt;b&gt;B&lt;/b&gt;.</p>' in raw
    assert "<dt>scenario</dt><dd>cut-write \u2014 Power cut while" in raw
    # An old journal without descriptions still reads.
    write_journal(d, [campaign(), run(1, "cut-write", "1ms", "upgraded"), end()])
    assert hilctl("report", d).returncode == 0
    assert json.loads((d / "summary.json").read_text())["scenarios"]["cut-write"][
        "description"] is None


def test_report_reads_times_of_old_hilctl_journals(hilctl, tmp_path):
    """Journals of hilctl before runs had "finished" wrote the end time as
    "started" (its records carry host and shard); they still read, and the
    campaign's duration is not stretched by a run's length."""
    d = tmp_path / "camp"
    lines = [campaign()]
    for n, (start, dur) in enumerate([(0.1, 1.5), (1.7, 1.6)], 1):
        rec = json.loads(run(n, "s", "%dms" % n, "upgraded"))
        end_t = start + dur
        rec["run"].update({"started": "2026-11-25T01:00:%06.3fZ" % end_t, "duration_s": dur,
                           "host": "lab-host-1", "shard": {"index": 0, "count": 1, "attempt": 1}})
        lines.append(json.dumps(rec))
    lines.append(json.dumps({"end": {"finished": "2026-11-25T01:00:03.300Z", "complete": True}}))
    write_journal(d, lines)
    r = hilctl("report", d)
    assert r.returncode == 0, r.stdout + r.stderr
    summary = json.loads((d / "summary.json").read_text())
    assert abs(summary["duration_s"] - 3.3) < 1e-6  # not 3.3 + 1.6
    assert [x["started"] for x in summary["runs"]] == ["2026-11-25T01:00:00.100Z",
                                                       "2026-11-25T01:00:01.700Z"]
    assert [x["finished"] for x in summary["runs"]] == ["2026-11-25T01:00:01.600Z",
                                                        "2026-11-25T01:00:03.300Z"]
    # A journal of another writer, without "finished": "started" is the start.
    write_journal(d, [campaign(), run(1, "s", "1ms", "upgraded"), end()])
    hilctl("report", d)
    got = json.loads((d / "summary.json").read_text())["runs"][0]
    assert (got["started"], got["finished"]) == ("2026-11-25T01:00:01.000Z",
                                                 "2026-11-25T01:00:12.000Z")



# ---- a journal from another host does not drive the user's terminal ---------------------------

OSC52 = "\x1b]52;c;cm0gLXJmIH4K\x07"  # "set the clipboard to: rm -rf ~"
CLEAR = "\x1b[2J\x1b[H"


def read_pty(argv, env=None):
    """Run argv with stdout and stderr on a terminal; every byte it wrote."""
    import pty
    master, slave = pty.openpty()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the last writer closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return p.wait(timeout=60), out


def test_report_escapes_journal_strings_on_a_terminal(hilctl_bin, tmp_path, run_dir):
    cid = "camp" + OSC52 + CLEAR + "\u009b2J"  # U+009B: CSI for terminals that take C1
    key = "cut" + CLEAR + "/point=1" + OSC52
    lines = [campaign(cid=cid),
             run(1, "cut", "100ms", "upgraded", key=key, timeline="../" + CLEAR + "x.jsonl"),
             run(2, "cut", "100ms", "upgraded", key=key)]  # no end: a partial campaign
    d = tmp_path / "hostile"
    write_journal(d, lines)
    for argv in ([hilctl_bin, "report", str(d)],
                 [hilctl_bin, "report", "--merge", "--out", str(tmp_path / "m"), str(d)]):
        rc, out = read_pty(argv)
        assert rc == 3, out
        text = out.decode("utf-8")  # valid UTF-8 on the terminal
        assert "\x1b" not in text and "\x07" not in text, repr(text)
        assert not any(0x80 <= ord(ch) < 0xa0 for ch in text), repr(text)
        assert "␛]52;c;cm0gLXJmIH4K␇" in text, text  # shown, as control pictures
        assert "␛[2J␛[H" in text, text
        assert "\\u009b2J" in text, text
        assert "partial" in text and "again at line" in text and "timeline" in text, text
    # not a terminal: the same text, so a log viewer is safe too
    r = subprocess.run([hilctl_bin, "report", str(d)], capture_output=True, timeout=60)
    assert b"\x1b" not in r.stdout + r.stderr and b"\xe2\x90\x9b]52" in r.stdout + r.stderr


def test_reports_are_not_readable_by_other_users(hilctl, tmp_path):
    d = write_journal(tmp_path / "c", [campaign(), run(1, "cut", "100ms", "upgraded"),
                                       end(runs_done=1)]).parent
    old = os.umask(0o022)
    try:
        r = hilctl("report", "--out", tmp_path / "private", d)
        assert r.returncode == 0, r.stderr
        assert stat.S_IMODE((tmp_path / "private").stat().st_mode) == 0o750
        for name in ("report.xml", "report.tap", "summary.json", "report.html"):
            assert stat.S_IMODE((tmp_path / "private" / name).stat().st_mode) == 0o640, name
        r = hilctl("report", "--out", tmp_path / "public", d,
                   env={**os.environ, "HILCTL_UMASK": "022"})
        assert r.returncode == 0, r.stderr
        assert stat.S_IMODE((tmp_path / "public").stat().st_mode) == 0o755
        assert stat.S_IMODE((tmp_path / "public" / "report.html").stat().st_mode) == 0o644
        r = hilctl("report", d, env={**os.environ, "HILCTL_UMASK": "u=rwx"})
        assert r.returncode == 2 and "HILCTL_UMASK=u=rwx" in r.stderr, r.stderr
    finally:
        os.umask(old)
