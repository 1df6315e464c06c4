#!/usr/bin/env bash
# Contract fuzzing: schemathesis drives the real function, served by `cargo lambda watch` as a
# function URL, with a valid token of the local development issuer, against openapi.yaml.
# No 5xx, and every response must match the documented statuses, headers and schemas.
# Run under scripts/with-moto.sh (it provides AWS_ENDPOINT_URL).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
venv=${VENV:-$here/.venv}
export PATH="$venv/bin:$PATH"
target=${CARGO_TARGET_DIR:-$here/target}
free_port() { "$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
jwks_port=$(free_port)
lambda_port=$(free_port)
examples=${CONTRACT_EXAMPLES:-40}

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

cargo build --bins --locked
set -a
# shellcheck source=local.env
. scripts/local.env
set +a
demo_sub=7c1d5e2a-3b4f-4a6e-8d9c-0e1f2a3b4c5d
printf '%s' 'correct horse battery staple' | "$target/debug/seed-user" --create-table --user-id "$demo_sub" --email demo@example.com --username demo

"$venv/bin/python" scripts/dev_jwks.py serve --port "$jwks_port" &
pids+=($!)
cargo lambda watch --ignore-changes -A 127.0.0.1 -P "$lambda_port" --env-file scripts/local.env \
  --env-var AWS_ENDPOINT_URL="$AWS_ENDPOINT_URL" --env-var JWT_ISSUER="http://127.0.0.1:$jwks_port" \
  --env-var LOCKOUT_THRESHOLD=0 >/tmp/contract-watch.log 2>&1 &
pids+=($!)
for _ in $(seq 1 600); do
  (echo > "/dev/tcp/127.0.0.1/$lambda_port") 2>/dev/null && break
  sleep 1
done
token=$("$venv/bin/python" scripts/dev_jwks.py token --port "$jwks_port" --sub "$demo_sub")

SCHEMATHESIS_HOOKS=schemathesis_hooks PYTHONPATH="$here/scripts" \
  "$venv/bin/schemathesis" run openapi.yaml \
  --url "http://127.0.0.1:$lambda_port/lambda-url/change-password" \
  -H "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --generation-codec utf-8 --generation-database none \
  --max-examples "$examples" --seed 20261127 --request-timeout 30 --no-color
