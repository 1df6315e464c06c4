#!/usr/bin/env python3
"""The emails a moto server's SES has accepted (v1 SendEmail, v2 SendEmail with simple content),
read from moto's model data (`GET <endpoint>/moto-api/data.json`, results["ses"]["Message"]).
moto sends nothing: it keeps each message's id, source, subject, body and destinations, and for
a message with a text and an HTML part it keeps the HTML part only. Raw and templated messages
(moto's RawMessage, TemplateMessage) are not shown.

Run `scripts/sent_mail.py --help` for the command line. Standard library only.
"""

import argparse
import json
import os
import sys
import urllib.error
import urllib.request

EPILOG = """\
output:
  One block per message, in the order moto accepted them, blocks separated by a line of 72
  dashes:
    To: <ToAddresses, comma-separated>
    Cc: <CcAddresses>                  (only when there are some)
    Bcc: <BccAddresses>                (only when there are some)
    From: <the source address>
    Subject: <subject>
    Message-Id: <moto's message id>

    <body, as moto keeps it: the HTML part when the message has one, else the text part>
  "no mail" alone when no message was accepted (or none to --to's address).

exit status:
  0  the messages were printed, or "no mail"
  2  bad usage, or the endpoint did not answer moto's data.json

example:
  scripts/sent_mail.py --endpoint http://127.0.0.1:5055 --to demo@example.com
"""

SEPARATOR = "-" * 72
DESTINATION_FIELDS = (("To", "ToAddresses"), ("Cc", "CcAddresses"), ("Bcc", "BccAddresses"))


def messages(data):
    """The SES messages of moto's data.json (parsed), in the order they were accepted."""
    return data.get("ses", {}).get("Message", [])


def addressed_to(message, address):
    wanted = address.strip().lower()
    return any(a.strip().lower() == wanted
               for _, field in DESTINATION_FIELDS for a in (message.get("destinations") or {}).get(field, []))


def render(message):
    destinations = message.get("destinations") or {}
    lines = []
    for label, field in DESTINATION_FIELDS:
        if destinations.get(field) or label == "To":
            lines.append(f"{label}: {', '.join(destinations.get(field, []))}")
    lines += [f"From: {message.get('source', '')}", f"Subject: {message.get('subject', '')}",
              f"Message-Id: {message.get('id', '')}", "", str(message.get("body", "")).rstrip("\n")]
    return "\n".join(lines)


def fetch(endpoint, timeout=10):
    with urllib.request.urlopen(f"{endpoint.rstrip('/')}/moto-api/data.json", timeout=timeout) as response:
        return json.loads(response.read())


def main(argv=None, stdout=None, stderr=None):
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    parser = argparse.ArgumentParser(
        prog="sent_mail.py", description="Print the emails a moto server's SES has accepted.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint",
                        default=os.environ.get("AWS_ENDPOINT_URL_SESV2") or os.environ.get("AWS_ENDPOINT_URL"),
                        help="moto's address, e.g. http://127.0.0.1:5055 "
                             "(default: $AWS_ENDPOINT_URL_SESV2, else $AWS_ENDPOINT_URL)")
    parser.add_argument("--to", metavar="ADDRESS",
                        help="only the messages with ADDRESS among their To, Cc or Bcc (any case)")
    args = parser.parse_args(argv)
    if not args.endpoint:
        parser.error("--endpoint is required (or set AWS_ENDPOINT_URL)")
    try:
        data = fetch(args.endpoint)
    except (OSError, ValueError) as e:
        print(f"sent_mail.py: no moto data at {args.endpoint}/moto-api/data.json: {e}", file=stderr)
        return 2
    found = [m for m in messages(data) if args.to is None or addressed_to(m, args.to)]
    if not found:
        print("no mail", file=stdout)
        return 0
    print(f"\n{SEPARATOR}\n".join(render(m) for m in found), file=stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
