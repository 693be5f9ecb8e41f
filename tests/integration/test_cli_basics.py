"""The CLI answers --version and --help, and refuses nonsense with exit 2."""


def test_version_names_hilctl(hilctl):
    r = hilctl("--version")
    assert r.returncode == 0
    assert r.stdout.startswith("hilctl ")


# ---- Bad input is refused at load, before anything is powered (issue 14) ----
#
# Each bad input must give exit 2 and name file:line:col, for `hilctl check`,
# `hilctl boards` and `run --dry-run` alike; before, lab values were checked
# only when the board was used (exit 3) and scenario regexes only when a run
# needed them (infra_error).

import pathlib
import signal
import subprocess
import time

import pytest

GOOD_BOARD = ("  - name: b1\n    tags: [t]\n"
              "    power: {driver: command, on: [true], off: [true]}\n")
GOOD_SCENARIO = "scenario: s\nallowed: [upgraded]\nfits: [t]\nsteps:\n  - power: on\n"

# (id, lab text, line:col of the error, words of the message)
BAD_LABS = [
    ("power-timeout-banana",
     "boards:\n  - name: b1\n    power: {driver: command, on: [true], off: [true], timeout: banana}\n",
     ":3:64:", '"banana" is not a duration'),
    ("power-timeout-huge",
     "boards:\n  - name: b1\n    power:\n      driver: command\n      on: [true]\n      off: [true]\n"
     "      timeout: 99999999999999999999999s\n",
     ":7:16:", "too long a duration"),
    ("console-port-huge",
     "boards:\n" + GOOD_BOARD + "    console: {type: tcp, port: 99999999999}\n",
     ":5:32:", "99999999999 is out of range (1 to 65535)"),
    ("console-baud-word",
     "boards:\n" + GOOD_BOARD + "    console: {type: serial, path: /dev/ttyUSB9, baud: fast}\n",
     ":5:55:", '"fast" is not a whole number'),
    ("probe-regex",
     "boards:\n" + GOOD_BOARD + "    probes: {version: 'v=(?<version>\\S+'}\n",
     ":5:23:", "is not a valid regex: missing closing parenthesis"),
    ("probe-alive-regex",
     "boards:\n" + GOOD_BOARD + "    probes: {alive: {send: echo hi, expect: 'hi[0-'}}\n",
     ":5:45:", "is not a valid regex"),
    ("gpio-line",
     "boards:\n  - name: b1\n    power: {driver: gpio, chip: gpiochip0, line: 999999}\n",
     ":3:50:", "is not a line offset"),
    ("ftdi-channel",
     "boards:\n  - name: b1\n    power: {driver: ftdi, serial: A1, channel: 9}\n",
     ":3:48:", "9 is out of range (1 to 8)"),
    ("pdu-port",
     "boards:\n  - name: b1\n    power: {driver: pdudaemon, host: localhost, hostname: pdu1, port: x}\n",
     ":3:71:", '"x" is not a whole number'),
    ("command-status-regex",
     "boards:\n  - name: b1\n    power: {driver: command, on: [true], off: [true], "
     "status: [true], status_on: '(on'}\n",
     ":3:82:", "is not a valid regex"),
    ("network-missing-off",
     "boards:\n" + GOOD_BOARD + "    network: {driver: command, on: [true]}\n",
     ":5:14:", 'needs key "off"'),
    ("network-qemu-on-relay",
     "boards:\n" + GOOD_BOARD + "    network: {driver: qemu}\n",
     ":5:23:", "needs the board's power driver to be qemu"),
]

# (id, scenario text, line:col, words); the lab is good
BAD_SCENARIOS = [
    ("expect", "scenario: s\nallowed: [upgraded]\nsteps:\n  - expect: 'a(b'\n",
     ":4:13:", "is not a valid regex"),
    ("expect-list", "scenario: s\nallowed: [upgraded]\nsteps:\n  - expect: [ok, 'a[b']\n",
     ":4:18:", "is not a valid regex"),
    ("fault-marker",
     "scenario: s\nallowed: [upgraded]\nsteps:\n  - fault: {kind: power_cut, marker: 'x(?<'}\n",
     ":4:38:", "marker \"x(?<\" is not a valid regex"),
    ("fault-until",
     "scenario: s\nallowed: [upgraded]\nsteps:\n  - fault: {kind: network, until: '*x'}\n",
     ":4:35:", "is not a valid regex"),
    ("forbid", "scenario: s\nallowed: [upgraded]\nforbid: [ok, 'a)b']\nsteps: []\n",
     ":3:14:", "is not a valid regex"),
    ("checks",
     "scenario: s\nallowed: [upgraded]\nchecks:\n  - {send: x, expect: '(('}\nsteps: []\n",
     ":4:23:", "is not a valid regex"),
    ("step-timeout", "scenario: s\nallowed: [upgraded]\nsteps:\n  - {expect: ok, timeout: 1e3s}\n",
     ":4:27:", '"1e3s" is not a duration'),
    ("fits-no-board", "scenario: s\nallowed: [upgraded]\nfits: [t, nosuch]\nsteps: []\n",
     ":3:7:", "no board in"),
]


def _lab(tmp_path, text):
    lab = tmp_path / "lab.yaml"
    lab.write_text(text)
    return lab


def _scenario(tmp_path, text=GOOD_SCENARIO, name="s.yaml"):
    sc = tmp_path / name
    sc.write_text(text)
    return sc


def _assert_refused(r, path, where, what):
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert f"{path}{where}" in r.stderr, r.stderr
    assert what in r.stderr, r.stderr


@pytest.mark.parametrize("how", ["check", "boards", "dry-run"])
@pytest.mark.parametrize("text,where,what", [c[1:] for c in BAD_LABS],
                         ids=[c[0] for c in BAD_LABS])
def test_bad_lab_refused_at_load(hilctl, tmp_path, how, text, where, what):
    lab = _lab(tmp_path, text)
    if how == "check":
        r = hilctl("--lab", lab, "check")
    elif how == "boards":
        r = hilctl("--lab", lab, "boards")
    else:
        r = hilctl("--lab", lab, "run", _scenario(tmp_path), "--dry-run")
    _assert_refused(r, lab, where, what)


@pytest.mark.parametrize("how", ["check", "dry-run"])
@pytest.mark.parametrize("text,where,what", [c[1:] for c in BAD_SCENARIOS],
                         ids=[c[0] for c in BAD_SCENARIOS])
def test_bad_scenario_refused_at_load(hilctl, tmp_path, how, text, where, what):
    lab = _lab(tmp_path, "boards:\n" + GOOD_BOARD)
    sc = _scenario(tmp_path, text)
    if how == "check":
        r = hilctl("--lab", lab, "check", sc)
    else:
        r = hilctl("--lab", lab, "run", sc, "--dry-run")
    _assert_refused(r, sc, where, what)


def test_check_passes_good_input_and_names_every_bad_file(hilctl, tmp_path):
    lab = _lab(tmp_path, "boards:\n" + GOOD_BOARD)
    good = _scenario(tmp_path)
    r = hilctl("--lab", lab, "check", good)
    assert r.returncode == 0, r.stderr
    assert f"{lab}: ok (1 board)" in r.stdout and f"{good}: ok" in r.stdout
    bad1 = _scenario(tmp_path, BAD_SCENARIOS[0][1], "bad1.yaml")
    bad2 = _scenario(tmp_path, BAD_SCENARIOS[4][1], "bad2.yaml")
    r = hilctl("--lab", lab, "check", bad1, good, bad2)
    assert r.returncode == 2
    assert f"{bad1}:4:13:" in r.stderr and f"{bad2}:3:14:" in r.stderr
    assert f"{good}: ok" in r.stdout


def test_check_help_and_shipped_files_pass(hilctl):
    r = hilctl("check", "--help")
    assert r.returncode == 0 and r.stdout.startswith("usage: hilctl")
    root = pathlib.Path(__file__).resolve().parents[2]
    r = hilctl("--lab", root / "fixtures" / "lab-qemu.yaml", "check",
               *sorted((root / "scenarios").glob("*.yaml")))
    assert r.returncode == 0, r.stderr
    # the RAUC board's scenarios, on its own lab
    r = hilctl("--lab", root / "fixtures" / "lab-rauc.yaml", "check",
               *sorted((root / "scenarios" / "rauc").glob("*.yaml")))
    assert r.returncode == 0, r.stderr
    assert r.stdout.count(": ok") == 5, r.stdout
    # the Mender board's scenarios, on its own lab
    r = hilctl("--lab", root / "fixtures" / "lab-mender.yaml", "check",
               *sorted((root / "scenarios" / "mender").glob("*.yaml")))
    assert r.returncode == 0, r.stderr
    assert r.stdout.count(": ok") == 5, r.stdout


@pytest.mark.parametrize("how", ["dry-run", "run"])
def test_dry_run_agrees_with_run_on_an_unknown_board(hilctl, tmp_path, how):
    lab = _lab(tmp_path, "boards:\n" + GOOD_BOARD)
    args = ["--dry-run"] if how == "dry-run" else ["--out", tmp_path / "out"]
    r = hilctl("--lab", lab, "run", _scenario(tmp_path), "--board", "nosuch", *args)
    assert r.returncode == 2, r.stderr
    assert f'{lab}: no board "nosuch"' in r.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("how", ["dry-run", "run"])
def test_dry_run_agrees_with_run_on_fits_matching_no_board(hilctl, tmp_path, how):
    lab = _lab(tmp_path, "boards:\n" + GOOD_BOARD)
    sc = _scenario(tmp_path, BAD_SCENARIOS[-1][1])
    other = _scenario(tmp_path, GOOD_SCENARIO.replace("scenario: s", "scenario: o"), "o.yaml")
    args = ["--dry-run"] if how == "dry-run" else ["--out", tmp_path / "out"]
    r = hilctl("--lab", lab, "run", other, sc, *args)
    assert r.returncode == 2, r.stderr
    assert f"{sc}:3:7: fits [t, nosuch]: no board in {lab}" in r.stderr


@pytest.mark.parametrize("option,value,message", [
    ("--seed", "abc", "--seed abc: is not a whole number (give 0 to 18446744073709551615)"),
    ("--bisect", "-7", "--bisect -7: is out of range (give 0 to 1000)"),
    ("--max-failures", "x", "--max-failures x: is not a whole number (give 0 to 100000)"),
    ("-j", "2x", "-j 2x: is not a whole number (give 1 to 64)"),
    ("--runs", "3x", "--runs 3x: is not a whole number (give 1 to 100000)"),
    ("--runs", "1000000000", "--runs 1000000000: is out of range (give 1 to 100000)"),
    ("--repeat", "0", "--repeat 0: is out of range (give 1 to 1000)"),
    ("--shards", "1e3", "--shards 1e3: is not a whole number"),
    ("--sweep", "1:1000000000:1", "1000000000 fault points, more than 100000 in one campaign"),
    ("--shard", "0/2x", "--shard 0/2x: give I/N with 0 <= I < N"),
])
def test_numeric_options_are_strict_with_their_range(hilctl, tmp_path, option, value, message):
    lab = _lab(tmp_path, "boards:\n" + GOOD_BOARD)
    r = hilctl("--lab", lab, "run", _scenario(tmp_path), option, value, "--dry-run")
    assert r.returncode == 2, r.stderr
    assert message in r.stderr


def test_plans_are_capped_counting_repeats(hilctl, tmp_path):
    lab = _lab(tmp_path, "boards:\n" + GOOD_BOARD)
    sc = _scenario(tmp_path, GOOD_SCENARIO + "sweep: {from: 0, to: 1000000}\n")
    r = hilctl("--lab", lab, "run", sc, "--runs", "100000", "--repeat", "2", "--dry-run")
    assert r.returncode == 2
    assert "200000 runs, more than 100000 in one campaign" in r.stderr


def test_sigterm_stops_planning(hilctl_bin, tmp_path, run_dir):
    lab = _lab(tmp_path, "boards:\n" + GOOD_BOARD)
    sc = _scenario(tmp_path, GOOD_SCENARIO + "sweep: {from: 0, to: 100000000}\n")
    scenarios = [_scenario(tmp_path, GOOD_SCENARIO.replace("scenario: s", f"scenario: s{i}")
                           + "sweep: {from: 0, to: 100000000}\n", f"s{i}.yaml")
                 for i in range(200)]
    p = subprocess.Popen([hilctl_bin, "--lab", str(lab), "run", *map(str, [sc, *scenarios]),
                          "--runs", "500", "--dry-run"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.05)
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    # Either it was still planning (interrupted, 3) or had already finished
    # its 100000 runs (0); it never ignores the signal.
    assert p.returncode in (0, 3), err
    if p.returncode == 3:
        assert "interrupted" in err


def test_boards_without_a_lab_file_says_how_to_name_one(hilctl, tmp_path, monkeypatch):
    monkeypatch.delenv("HILCTL_LAB", raising=False)
    r = hilctl("boards", cwd=tmp_path)
    assert r.returncode == 2
    assert "lab.yaml: No such file or directory" in r.stderr
    assert "--lab FILE" in r.stderr and "HILCTL_LAB" in r.stderr


def test_run_help_states_the_out_default(hilctl):
    r = hilctl("run", "--help")
    assert "[--out DIR]" in r.stdout and "default\n" in r.stdout and "./hilctl-out" in r.stdout
