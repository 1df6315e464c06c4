#!/usr/bin/env bash
# `make run`: moto (DynamoDB + Secrets Manager) on loopback, the users table and a demo user,
# and the function served by `cargo lambda watch --release`. Ctrl-C stops everything.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
venv=${VENV:-$here/.venv}
export PATH="$venv/bin:$PATH"
moto_port=${MOTO_PORT:-5055}
lambda_port=${LAMBDA_PORT:-9000}
jwks_port=${JWKS_PORT:-9911}

pids=()
cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
  sleep 1
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "make run: stopped"
}
trap cleanup EXIT INT TERM

"$venv/bin/python" scripts/moto_atomic.py -H 127.0.0.1 -p "$moto_port" >/tmp/change-password-moto.log 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$moto_port/moto-api/', timeout=1)" 2>/dev/null && break
  sleep 0.2
done

# A local development issuer: a throwaway key in .run/, its JWKS on loopback.
"$venv/bin/python" scripts/dev_jwks.py serve --port "$jwks_port" &
pids+=($!)
issuer="http://127.0.0.1:$jwks_port"

export AWS_ENDPOINT_URL="http://127.0.0.1:$moto_port"
export AWS_REGION=eu-west-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_EC2_METADATA_DISABLED=true
export USERS_TABLE=${USERS_TABLE:-users-local}

demo_sub=7c1d5e2a-3b4f-4a6e-8d9c-0e1f2a3b4c5d
demo_password='correct horse battery staple'
cargo build --release --bin seed-user
printf '%s' "$demo_password" | "${CARGO_TARGET_DIR:-$here/target}/release/seed-user" \
  --create-table --user-id "$demo_sub" --email demo@example.com --username demo

cargo lambda watch --release -A 127.0.0.1 -P "$lambda_port" \
  --env-var USERS_TABLE="$USERS_TABLE" --env-var AWS_ENDPOINT_URL="$AWS_ENDPOINT_URL" \
  --env-var AWS_REGION="$AWS_REGION" --env-var AWS_ACCESS_KEY_ID=testing \
  --env-var AWS_SECRET_ACCESS_KEY=testing --env-var AWS_EC2_METADATA_DISABLED=true \
  --env-var JWT_ISSUER="$issuer" --env-var JWT_AUDIENCE=local-dev-client &
pids+=($!)
for _ in $(seq 1 1800); do
  (echo > "/dev/tcp/127.0.0.1/$lambda_port") 2>/dev/null && break
  sleep 1
done
token=$("$venv/bin/python" scripts/dev_jwks.py token --port "$jwks_port" --sub "$demo_sub")

cat <<MSG

  change-password is served on http://127.0.0.1:$lambda_port (moto on $AWS_ENDPOINT_URL, table $USERS_TABLE).
  Demo user $demo_sub, password '$demo_password'.

  Change the demo password through an HTTP API JWT-authorizer event:

    PATH="$venv/bin:\$PATH" cargo lambda invoke --invoke-address 127.0.0.1 --invoke-port $lambda_port \\
      --data-file events/apigw-http-jwt.json change-password

  The first call answers 200; a second one answers 400 CurrentPasswordIncorrect (the password
  is now 'violet-Harbor-Lantern-42').

  Or call it as a function URL with a bearer token of the local development issuer (valid 1 hour;
  the function verifies it against $issuer/.well-known/jwks.json):

    curl -s -X POST http://127.0.0.1:$lambda_port/lambda-url/change-password/api/workspace/account/change-password \\
      -H 'Content-Type: application/json' \\
      -H 'Authorization: Bearer $token' \\
      -d '{"CurrentPassword":"violet-Harbor-Lantern-42","NewPassword":"amber-Quokka-Harbour-77"}'

  Ctrl-C stops everything.

MSG
wait
