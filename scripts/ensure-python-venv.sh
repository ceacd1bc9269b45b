#!/usr/bin/env bash
# Debian ships the venv module separately: install it when missing (as root), or say what to run.
set -euo pipefail
python="${1:?python interpreter}"
if "$python" -c 'import ensurepip, venv' 2>/dev/null; then
  exit 0
fi
version=$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
if [ "$(id -u)" = 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "python${version}-venv"
else
  echo "Python's venv module is missing: run 'sudo apt-get install python${version}-venv'" >&2
  exit 1
fi
