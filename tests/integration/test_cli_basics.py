"""The CLI answers --version and --help, and refuses nonsense with exit 2."""


def test_version_names_hilctl(hilctl):
    r = hilctl("--version")
    assert r.returncode == 0
    assert r.stdout.startswith("hilctl ")
