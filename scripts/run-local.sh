#!/usr/bin/env bash
# `make run`: one build of every binary, moto (DynamoDB + its stream, Secrets Manager, SES) on
# loopback, the users table with its stream and two demo users, the notice sender's SES
# identity, a development issuer, and the functions (change-password, security-event,
# change-notice) served by `cargo lambda watch` on the binaries just built. The banner comes
# once change-password answers.
# Ports: MOTO_PORT (5055), LAMBDA_PORT (9000), JWKS_PORT (9911). Ctrl-C stops everything.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
venv=${VENV:-$here/.venv}
export PATH="$venv/bin:$PATH"
target=${CARGO_TARGET_DIR:-$here/target}
moto_port=${MOTO_PORT:-5055}
lambda_port=${LAMBDA_PORT:-9000}
jwks_port=${JWKS_PORT:-9911}
logs="$here/.run"
mkdir -p "$logs"
phase() { echo "make run: $*"; }

pids=()
cleanup() {
  trap - EXIT INT TERM
  # The servers and what they started (cargo lambda watch runs the function as its child).
  for pid in "${pids[@]}"; do pkill -INT -P "$pid" 2>/dev/null || true; kill -INT "$pid" 2>/dev/null || true; done
  sleep 1
  for pid in "${pids[@]}"; do pkill -P "$pid" 2>/dev/null || true; kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  phase "stopped"
}
trap cleanup EXIT INT TERM

port_free() { ! (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for pair in "MOTO_PORT:$moto_port" "LAMBDA_PORT:$lambda_port" "JWKS_PORT:$jwks_port"; do
  name=${pair%%:*} port=${pair#*:}
  if ! port_free "$port"; then
    echo "make run: port $port is taken; choose another with $name=<port> make run" >&2
    exit 1
  fi
done
wait_for() { # wait_for <seconds> <command...>: until the command succeeds
  local limit=$1; shift
  for _ in $(seq 1 $((limit * 5))); do "$@" 2>/dev/null && return 0; sleep 0.2; done
  return 1
}

phase "[1/4] building the functions and seed-user (debug profile, argon2 optimised; first time: a few minutes)"
cargo build --bins --locked

phase "[2/4] starting moto on 127.0.0.1:$moto_port and the development issuer on 127.0.0.1:$jwks_port"
"$venv/bin/python" scripts/moto_atomic.py -H 127.0.0.1 -p "$moto_port" >"$logs/moto.log" 2>&1 &
pids+=($!)
"$venv/bin/python" scripts/dev_jwks.py serve --port "$jwks_port" >"$logs/jwks.log" 2>&1 &
pids+=($!)
moto_up() { python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$moto_port/moto-api/', timeout=1)"; }
wait_for 30 moto_up || { echo "make run: moto did not start (see $logs/moto.log)" >&2; exit 1; }

set -a
# shellcheck source=local.env
. scripts/local.env
set +a
export AWS_ENDPOINT_URL="http://127.0.0.1:$moto_port"
issuer="http://127.0.0.1:$jwks_port"
# The sample events' user (for cargo lambda invoke) and a second one (for curl), so that each
# demo works first, in either order.
invoke_sub=7c1d5e2a-3b4f-4a6e-8d9c-0e1f2a3b4c5d
curl_sub=0b9e8d7c-6f5a-4e3d-9c2b-1a0f9e8d7c6b
demo_password='correct horse battery staple'
phase "[3/4] creating table $USERS_TABLE (with its stream) and two demo users, and the SES identity $NOTICE_FROM"
printf '%s' "$demo_password" | "$target/debug/seed-user" --create-table --user-id "$invoke_sub" \
  --email demo@example.com --username demo
printf '%s' "$demo_password" | "$target/debug/seed-user" --user-id "$curl_sub" \
  --email demo2@example.com --username demo2
# seed-user creates the table without a stream: the security-event pipe reads one (template.yaml
# has NEW_AND_OLD_IMAGES). The invoke user gets a second notification address, so that a change
# sends two notices; change-notice sends from NOTICE_FROM, which SES (moto) must know.
INVOKE_SUB=$invoke_sub "$venv/bin/python" - <<'PY'
import os
import boto3

table, sub, region = os.environ["USERS_TABLE"], os.environ["INVOKE_SUB"], os.environ["AWS_REGION"]
db = boto3.client("dynamodb", region_name=region)
if not db.describe_table(TableName=table)["Table"].get("StreamSpecification", {}).get("StreamEnabled"):
    db.update_table(TableName=table, StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
db.update_item(TableName=table, Key={"UserId": {"S": sub}}, UpdateExpression="SET NotificationEmails = :a",
               ExpressionAttributeValues={":a": {"L": [{"S": "demo-phone@example.net"}]}})
boto3.client("sesv2", region_name=region).create_email_identity(EmailIdentity=os.environ["NOTICE_FROM"])
PY

phase "[4/4] starting the functions on 127.0.0.1:$lambda_port"
cargo lambda watch --ignore-changes -A 127.0.0.1 -P "$lambda_port" --env-file scripts/local.env \
  --env-var AWS_ENDPOINT_URL="$AWS_ENDPOINT_URL" --env-var JWT_ISSUER="$issuer" \
  >"$logs/function.log" 2>&1 &
pids+=($!)
url="http://127.0.0.1:$lambda_port/lambda-url/change-password/api/workspace/account/change-password"
# The function answers a request without a token with a 401 problem: it is up.
answers() { [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url" -H 'Content-Type: application/json' -d '{}')" = 401 ]; }
wait_for 120 answers || { echo "make run: the function did not answer (see $logs/function.log)" >&2; exit 1; }
token=$("$venv/bin/python" scripts/dev_jwks.py token --port "$jwks_port" --sub "$curl_sub" --username demo2)

cat <<MSG

  change-password answers on http://127.0.0.1:$lambda_port (moto on $AWS_ENDPOINT_URL, table
  $USERS_TABLE; the functions' log: .run/function.log). Both demo users' password is
  '$demo_password'.

  Change it through an HTTP API JWT-authorizer sample event (user $invoke_sub):

    PATH="$venv/bin:\$PATH" cargo lambda invoke --invoke-address 127.0.0.1 --invoke-port $lambda_port \\
      --data-file events/apigw-http-jwt.json change-password

  The first call answers 200; within 10 minutes the same call answers 200 with the Warning
  PasswordAlreadyChanged (a retry); the password is now 'violet-Harbor-Lantern-42'.

  Or call it as a function URL with a bearer token of the local development issuer (user
  $curl_sub, valid 1 hour; the function verifies it against $issuer/.well-known/jwks.json):

    curl -s -X POST $url \\
      -H 'Content-Type: application/json' \\
      -H 'Authorization: Bearer $token' \\
      -d '{"CurrentPassword":"$demo_password","NewPassword":"amber-Quokka-Harbour-77"}'

  After a change, the security event and the notice, end to end: the table's stream through the
  pipe of template.yaml (its filter), the enrichment security-event, then change-notice, which
  emails demo@example.com and demo-phone@example.net (user $invoke_sub) or demo2@example.com
  (user $curl_sub) through moto's SES. Run it again: a redelivered event sends nothing.

    PATH="$venv/bin:\$PATH" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=$AWS_REGION \\
      scripts/pipe_event.py --endpoint $AWS_ENDPOINT_URL --table $USERS_TABLE \\
      --lambda http://127.0.0.1:$lambda_port --deliver

  The emails moto's SES accepted:

    scripts/sent_mail.py --endpoint $AWS_ENDPOINT_URL

  Ctrl-C stops everything.
MSG
wait
