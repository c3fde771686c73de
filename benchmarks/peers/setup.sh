#!/usr/bin/env bash
# Create one venv per peer tool under benchmarks/.venv-<peer> and install it there.
# Idempotent: a venv whose requirements file has not changed since the last successful
# install is left alone. Peers are never driftline dependencies.
#
#   bash benchmarks/peers/setup.sh                 # all peers
#   bash benchmarks/peers/setup.sh nannyml alibi   # some of them
#   PEER_PYTHON=python3.11 bash benchmarks/peers/setup.sh
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bench="$(dirname "$here")"
python="${PEER_PYTHON:-python3.11}"
peers=("$@")
if [ ${#peers[@]} -eq 0 ]; then
    peers=(evidently nannyml whylogs alibi)
fi

# pip, minus the warnings about configured local index folders that do not exist here.
quiet_pip() {
    local venv="$1"
    shift
    "$venv/bin/python" -m pip install --quiet "$@" 2>&1 | { grep -v "^WARNING: Location 'file:" || true; }
    return "${PIPESTATUS[0]}"
}

status=0
for peer in "${peers[@]}"; do
    req="$here/requirements-$peer.txt"
    venv="$bench/.venv-$peer"
    stamp="$venv/.installed-requirements"
    if [ ! -f "$req" ]; then
        echo "setup: no requirements file for '$peer' ($req)" >&2
        status=1
        continue
    fi
    if [ -f "$stamp" ] && cmp -s "$req" "$stamp"; then
        echo "setup: $peer up to date ($venv)"
        continue
    fi
    echo "setup: installing $peer into $venv"
    if [ ! -x "$venv/bin/python" ]; then
        "$python" -m venv "$venv" || { status=1; continue; }
    fi
    if quiet_pip "$venv" --upgrade pip && quiet_pip "$venv" -r "$req"; then
        cp "$req" "$stamp"
        echo "setup: $peer installed"
    else
        echo "setup: FAILED to install $peer (see the pip error above)" >&2
        status=1
    fi
done
exit $status
