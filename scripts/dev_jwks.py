#!/usr/bin/env python3
"""Local development issuer for `make run`: a throwaway RSA signing key, its JWKS served on
loopback, and access tokens for the demo user. Never a real key: the key is generated on the
first run into .run/ (git-ignored) and is only trusted by the locally served function.

  dev_jwks.py serve --port 9911           # serves http://127.0.0.1:9911/.well-known/jwks.json
  dev_jwks.py token --port 9911 --sub S   # prints a signed access token (RS256, 1 hour)
"""
import argparse, base64, http.server, json, os, pathlib, time
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

HERE = pathlib.Path(__file__).resolve().parent.parent
KEY_FILE = HERE / ".run" / "dev-signing-key.pem"
KID = "local-dev-key"
CLIENT_ID = "local-dev-client"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def key():
    if not KEY_FILE.exists():
        KEY_FILE.parent.mkdir(exist_ok=True)
        k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        KEY_FILE.write_bytes(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()))
        os.chmod(KEY_FILE, 0o600)
    return serialization.load_pem_private_key(KEY_FILE.read_bytes(), password=None)


def jwks() -> dict:
    numbers = key().public_key().public_numbers()
    to_bytes = lambda n: n.to_bytes((n.bit_length() + 7) // 8, "big")
    return {"keys": [{"kty": "RSA", "kid": KID, "use": "sig", "alg": "RS256",
                      "n": b64(to_bytes(numbers.n)), "e": b64(to_bytes(numbers.e))}]}


def token(issuer: str, sub: str, username: str) -> str:
    now = int(time.time())
    header = {"alg": "RS256", "typ": "JWT", "kid": KID}
    claims = {"sub": sub, "username": username, "client_id": CLIENT_ID, "token_use": "access",
              "iss": issuer, "iat": now, "auth_time": now, "exp": now + 3600,
              "jti": base64.urlsafe_b64encode(os.urandom(12)).decode()}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = key().sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64(signature)}"


def serve(port: int):
    body = json.dumps(jwks()).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path != "/.well-known/jwks.json":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["serve", "token"])
    parser.add_argument("--port", type=int, default=9911)
    parser.add_argument("--sub", default="7c1d5e2a-3b4f-4a6e-8d9c-0e1f2a3b4c5d")
    parser.add_argument("--username", default="demo")
    args = parser.parse_args()
    if args.mode == "serve":
        serve(args.port)
    else:
        print(token(f"http://127.0.0.1:{args.port}", args.sub, args.username))
