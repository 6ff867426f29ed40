"""py/README.md's examples run as pasted: each ```python block runs (one
that starts with a `# test_*.py` line is a test file, run by pytest with the
plugin), and the ini example sets the demo nodes it says."""

from __future__ import annotations

import pathlib
import re

import pytest

pytest_plugins = ["pytester"]

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def blocks(lang: str) -> list:
    return re.findall(rf"^```{lang}\n(.*?)^```", README.read_text(), re.S | re.M)


def test_readme_has_examples():
    assert len(blocks("python")) >= 2
    assert blocks("toml")


@pytest.mark.parametrize("code", [b for b in blocks("python") if not b.startswith("# test_")])
def test_readme_python_runs(code, capsys):
    exec(compile(code, str(README), "exec"), {"__name__": "readme"})
    if "'pending', 'pending'" in code:
        assert "['pending', 'pending']" in capsys.readouterr().out


@pytest.mark.parametrize("code", [b for b in blocks("python") if b.startswith("# test_")])
def test_readme_test_files_pass(code, pytester):
    name = code.split("\n", 1)[0][2:].strip()
    pytester.makepyfile(**{name[:-3]: code})
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) == code.count("\ndef test_"), result.stdout.str()
    assert "failed" not in outcomes and "errors" not in outcomes, result.stdout.str()


def test_readme_ini_option_sets_demo_nodes(pytester):
    (toml,) = [b for b in blocks("toml") if b.startswith("# pyproject.toml")]
    n = int(re.search(r"ordu_demo_nodes = (\d+)", toml).group(1))
    pytester.makefile(".toml", pyproject=toml)
    pytester.makepyfile(f"""
        import pytest

        def test_ini(ordu_store):
            assert len(ordu_store.nodes()[0]) == {n}

        @pytest.mark.ordu_demo_nodes(1)
        def test_marker_wins(ordu_store):
            assert len(ordu_store.nodes()[0]) == 1

        class TestFixtureOverride:
            @pytest.fixture
            def ordu_demo_nodes(self):
                return 0

            def test_override(self, ordu_store):
                assert ordu_store.nodes()[0] == []
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_a_bad_demo_node_count_is_a_usage_error(pytester):
    pytester.makepyfile("""
        import pytest

        @pytest.mark.ordu_demo_nodes(-1)
        def test_bad(ordu_store):
            pass
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert "ordu_demo_nodes marker: want 0 to" in result.stdout.str() + result.stderr.str()
