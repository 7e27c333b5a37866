#!/usr/bin/env bash
# Creates .venv with Python 3.10 and installs Rapport with pinned dependencies.
# Returns in about a second when nothing changed since the last run.
#   scripts/setup.sh          runtime dependencies
#   scripts/setup.sh --test   plus test dependencies and headless Chromium
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

find_python() {
    local candidate
    for candidate in "$(command -v python3.10 || true)" "$HOME"/.pyenv/versions/3.10.*/bin/python3.10; do
        [ -n "$candidate" ] && [ -x "$candidate" ] || continue
        if "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

if ! python=$(find_python); then
    echo "error: Python 3.10 is required (Rasa 3.6 supports 3.8-3.10); install it as python3.10 on PATH or under ~/.pyenv/versions/3.10.*" >&2
    exit 1
fi

extras=""
[ $want_test = 1 ] && extras="[test]"
stamp_value=$(cat pyproject.toml requirements.lock scripts/setup.sh | sha256sum | cut -d' ' -f1)$extras
stamp_file=.venv/.rapport-setup
if [ ! -f "$stamp_file" ] || [ "$(cat "$stamp_file")" != "$stamp_value" ]; then
    # A [test] install satisfies a plain one: don't reinstall to drop extras.
    if [ -f "$stamp_file" ] && [ -z "$extras" ] && [ "$(cat "$stamp_file")" = "${stamp_value}[test]" ]; then
        :
    else
        echo "==> setting up .venv with $python"
        [ -x .venv/bin/python ] || "$python" -m venv .venv
        .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade "pip==24.3.1" "setuptools==70.3.0" "wheel==0.45.1"
        .venv/bin/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e ".$extras"
        .venv/bin/python -m pip check
        echo "$stamp_value" > "$stamp_file"
    fi
fi

# The project's spaCy pipeline (blank English + EntityRuler from the catalogue) under var/.
.venv/bin/rapport nlp build --quiet

if [ $want_test = 1 ] && [ ! -x /usr/bin/chromium ]; then
    echo "==> installing Debian's chromium for browser tests"
    if [ "$(id -u)" = 0 ]; then
        apt-get install -y -q chromium >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }
    else
        sudo apt-get install -y -q chromium >/dev/null
    fi
fi
exit 0
