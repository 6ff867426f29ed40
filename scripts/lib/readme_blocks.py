"""Splits README.md into its fenced code blocks for scripts/test.d/60-readme.sh.

Every block is preceded by a `<!-- readme: KIND -->` line (blank lines may come
between) saying how the test runs it, except the set-up block, which the test
checks word for word. A block with no such line fails the test, so a new
example cannot slip in untested.

Usage: readme_blocks.py README.md OUTDIR
writes OUTDIR/NN-KIND.txt for each block, in order, and prints their names.
"""

import pathlib
import re
import sys

MARK = re.compile(r"<!--\s*readme:\s*([a-z-]+)\s*-->")
KINDS = {"setup", "durable-run", "cluster-run", "curl", "rust-crate", "rust-main", "c", "python-setup", "python", "text"}


def blocks(text):
    kind, lines, out, inside = None, [], [], False
    pending = None
    for n, line in enumerate(text.splitlines(), 1):
        if inside:
            if line.startswith("```"):
                out.append((kind, "\n".join(lines) + "\n", start))
                inside, lines = False, []
            else:
                lines.append(line)
            continue
        m = MARK.search(line)
        if m:
            pending = m.group(1)
        elif line.startswith("```"):
            inside, start = True, n
            kind, pending = pending, None
            if kind is None and out == [] and line.strip() == "```sh":
                kind = "setup"
        elif line.strip():
            pending = None
    if inside:
        sys.exit(f"README.md:{start}: a code block is not closed")
    return out


def main():
    readme, outdir = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    outdir.mkdir(parents=True, exist_ok=True)
    for i, (kind, body, line) in enumerate(blocks(readme.read_text())):
        if kind not in KINDS:
            sys.exit(
                f"README.md:{line}: a code block without a known <!-- readme: KIND --> "
                f"line before it (kinds: {', '.join(sorted(KINDS))}); got {kind!r}"
            )
        name = f"{i:02}-{kind}.txt"
        (outdir / name).write_text(body)
        print(name)


if __name__ == "__main__":
    main()
