# Sourced by test fragments: need_python installs python3 and venv from
# Debian's packages when the machine lacks them.
need_python() {
  if ! command -v python3 >/dev/null || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    local sudo=
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq python3 python3-venv >/dev/null
  fi
}

# make_venv DIR PIP-ARGS... makes a Python virtual
# environment at DIR (installing python3 and venv from Debian's packages when
# the machine lacks them) and pip-installs PIP-ARGS into it, again only when
# the arguments, or a requirements file among them, change.
make_venv() {
  local venv=$1
  shift
  need_python
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  local want="$*" arg
  for arg in "$@"; do
    if [ -f "$arg" ]; then want+=$'\n'$(cat "$arg"); fi
  done
  local stamp=$venv/.ordu-requirements
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    "$venv/bin/python" -m pip install -q --upgrade pip
    "$venv/bin/python" -m pip install -q "$@"
    printf '%s' "$want" >"$stamp"
  fi
}
