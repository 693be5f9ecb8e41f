"""hilctl installed like a tool a lab host runs: make install, the man page,
--version and the Debian package (dpkg-buildpackage, lintian, hardening)."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import ROOT, hilctl_path

COMMANDS = ["boards", "check", "power", "console", "expect", "run", "qualify", "explore",
            "report", "submit", "gres", "lock", "unlock", "wlog", "flash"]


def make_install(tmp_path):
    """Build and install into a private prefix (its own build dir, so that
    DATADIR is compiled in as PREFIX/share/hilctl)."""
    prefix = tmp_path / "prefix"
    subprocess.run(["make", "-C", str(ROOT), "-s", f"BUILD={tmp_path / 'build'}",
                    f"PREFIX={prefix}", "install"], check=True, timeout=900,
                   stdout=subprocess.DEVNULL)
    return prefix


def test_installed_qualify_finds_the_installed_suite(tmp_path, run_dir):
    prefix = make_install(tmp_path)
    share = prefix / "share" / "hilctl"
    assert (share / "scenarios" / "qualify.suite").is_file()
    assert (share / "examples" / "lab-qemu.yaml").is_file()
    assert (prefix / "share" / "man" / "man1" / "hilctl.1").is_file()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # From a directory with no scenarios/ and no --scenarios.
    r = subprocess.run([str(prefix / "bin" / "hilctl"), "--lab",
                        str(share / "examples" / "lab-qemu.yaml"), "qualify", "--dry-run",
                        "--out", str(tmp_path / "out")],
                       cwd=elsewhere, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert re.search(r"^\d+ runs$", r.stdout, re.M), r.stdout
    assert "selftest-fail" in r.stdout
    r = subprocess.run([str(prefix / "bin" / "hilctl"), "qualify", "--help"],
                       capture_output=True, text=True, timeout=30)
    assert str(share / "scenarios") in r.stdout


def help_options(cmd):
    r = subprocess.run([hilctl_path(), cmd, "--help"], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, (cmd, r.stderr)
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*[a-z])", r.stdout))


def test_every_option_in_help_is_in_the_man_page():
    man = (ROOT / "docs" / "hilctl.1").read_text()
    man = man.replace("\\-", "-").replace("\\fB", "").replace("\\fR", "") \
             .replace("\\fI", "").replace("\\fP", "")
    missing = {}
    for cmd in COMMANDS:
        section = man  # options may be described once for several commands
        gone = sorted(o for o in help_options(cmd) if o not in section)
        if gone:
            missing[cmd] = gone
        assert re.search(rf"^\.(B|BI|BR) \"?{cmd}\b", man, re.M), f"no man page entry for {cmd}"
    assert not missing, f"options in --help but not in docs/hilctl.1: {missing}"


def test_version_is_a_real_version():
    r = subprocess.run([hilctl_path(), "--version"], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0
    assert re.fullmatch(r"hilctl [0-9a-f.][\w.+~-]*\n", r.stdout), r.stdout


def test_debian_package_builds_hardened_and_lintian_clean(tmp_path):
    for tool in ("dpkg-buildpackage", "dh", "lintian"):
        assert shutil.which(tool), f"{tool} missing: make deps installs it"
    src = tmp_path / "hilctl"
    files = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], check=True,
                           capture_output=True).stdout.decode().split("\0")
    for f in filter(None, files):
        dst = src / f
        dst.parent.mkdir(parents=True, exist_ok=True)
        if os.path.islink(ROOT / f):
            os.symlink(os.readlink(ROOT / f), dst)
        else:
            shutil.copy2(ROOT / f, dst)
    r = subprocess.run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src,
                       capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    debs = [d for d in tmp_path.glob("hilctl_*.deb")]
    assert len(debs) == 1, list(tmp_path.iterdir())
    deb = debs[0]
    r = subprocess.run(["lintian", "--fail-on", "error", str(deb)], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not re.search(r"^E: ", r.stdout, re.M), r.stdout
    x = tmp_path / "x"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(x)], check=True, timeout=120)
    binary = x / "usr" / "bin" / "hilctl"
    dyn = subprocess.run(["readelf", "-d", "-W", str(binary)], capture_output=True,
                         text=True, check=True).stdout
    assert "BIND_NOW" in dyn and "PIE" in dyn, dyn
    syms = subprocess.run(["readelf", "--dyn-syms", "-W", str(binary)],
                          capture_output=True, text=True, check=True).stdout
    assert "__stack_chk_fail" in syms, "no stack protector"
    assert re.search(r"__\w+_chk@", syms), "no FORTIFY_SOURCE"
    version = subprocess.run(["dpkg-deb", "-f", str(deb), "Version"], capture_output=True,
                             text=True, check=True).stdout.strip()
    r = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30)
    assert r.stdout == f"hilctl {version}\n"
    assert (x / "usr" / "share" / "hilctl" / "scenarios" / "qualify.suite").is_file()
