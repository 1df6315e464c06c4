"""schemathesis hooks for scripts/contract-test.sh.

cargo-lambda's function URL emulator answers 500 by itself, without invoking the function, when
a body under a text content type is not UTF-8 (real function URLs base64-encode such bodies).
Those cases test the emulator, not the function, so they are filtered out here; the function's
own handling of non-UTF-8 bodies is covered by the corpus of tests/real_binary.rs (bad-utf8-*)."""
import schemathesis


@schemathesis.hook
def filter_body(ctx, body):
    if isinstance(body, (bytes, bytearray)):
        try:
            bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            return False
    if isinstance(body, str):
        try:
            body.encode("utf-8")
        except UnicodeEncodeError:
            return False
    return True
