#!/usr/bin/env bash
# Make the peers' venv (default /work/peers-venv, or $1): CPU torch first, then
# Kestrel (editable, from this checkout) and the pinned peers.
#   bash benchmarks/peers/setup_venv.sh [VENV]
set -euo pipefail
VENV="${1:-/work/peers-venv}"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q torch==2.13.0            # the CPU build; before anything needing torch
"$VENV/bin/pip" install -q -e "$ROOT" -r "$ROOT/benchmarks/peers/requirements.txt"
"$VENV/bin/python" -c "import vectorstore, hnswlib, faiss, chromadb, qdrant_client, lancedb, pymilvus, milvus_lite; print('peers venv ready:', '$VENV')"
