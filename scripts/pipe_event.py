#!/usr/bin/env python3
"""The security-event pipe of template.yaml, applied locally to DynamoDB stream records.

template.yaml's `SecurityEventPipe` reads the users table's stream, keeps the records that its
FilterCriteria match, and puts one event per record on an EventBridge bus, with the detail its
InputTemplate builds. This module applies that same filter and template, read from
template.yaml, to stream records:

  - a loader of template.yaml (PyYAML, with the CloudFormation tags as their long forms);
  - the subset of EventBridge event-pattern matching the filter may use: exact values, lists
    of values (any of them), nested objects, `exists`, `prefix` and `anything-but`; anything
    else is refused rather than guessed;
  - the pipe's input-template rendering: each `<$.a.b.c>` placeholder is replaced by the value
    at that JSON path of the record. As EventBridge Pipes documents it, a string value is
    inserted as it is, with double quotes added when the placeholder is not already inside a
    JSON string, and never escaped; an object or array is inserted as JSON (inside a string,
    without its quotes); a number, boolean or null as its JSON literal. DynamoDB streams carry
    every number (`N`) as a string, so `<$...PasswordVersion.N>` always gives a JSON string.
    A path missing from the record is an error here (the pipe would leave that value out), and
    so is a string value holding `"` or `\\`, which the pipe would insert unescaped (the event
    would break, or gain fields: a user agent `x", "sub": "other` would override `sub`);
  - a command line that reads every record of a table's latest stream from a DynamoDB Streams
    API (moto, DynamoDB Local) and prints the events the pipe would publish.

Library use (tests/pipe_event_test.py, tests/template_test.py):

    pipe = load_pipe()                    # from template.yaml
    event = pipe.apply(record)            # None, or {"source", "detail-type", "detail"}

Run `scripts/pipe_event.py --help` for the command line.
"""

import argparse
import base64
import dataclasses
import datetime
import json
import os
import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
PIPE_ID = "SecurityEventPipe"

EPILOG = """\
output:
  One line per event the pipe would publish, in stream order (shard by shard, each in
  sequence order), each a JSON object with sorted keys and no spaces:
    {"detail":{...},"detail-type":"Password Changed","source":"change-password"}
  "detail" is the pipe's InputTemplate applied to the stream record. Records the filter
  does not match print nothing. Nothing else goes to standard output.

exit status:
  0  every record was read (zero or more events printed)
  1  a record matched the filter but its event could not be built (a path of the template
     missing from the record, or a result that is not JSON); stderr names the record
  2  bad usage, no stream on the table, or the Streams API refused a call

The records are read from the start of every shard (TRIM_HORIZON); the deployed pipe starts
at LATEST, when it is created. Credentials and region come from the usual AWS environment
(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION; any values for moto).

example:
  scripts/pipe_event.py --endpoint http://127.0.0.1:5000 --table users-local
"""


class PipeError(Exception):
    """A record that matched the filter could not be turned into an event."""


class UnsupportedPattern(ValueError):
    """The filter uses a part of the event-pattern language this module does not implement."""


# -- template.yaml ------------------------------------------------------------------------------


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that reads CloudFormation's short tags as their long forms."""


def _cfn_tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {"Fn::" + suffix: value}


_CfnLoader.add_multi_constructor("!", _cfn_tag)


def load_template(path=TEMPLATE):
    """template.yaml as plain Python values (short tags as their long forms)."""
    return yaml.load(pathlib.Path(path).read_text(), Loader=_CfnLoader)


# -- the pipe -----------------------------------------------------------------------------------


@dataclasses.dataclass
class Pipe:
    patterns: list  # the FilterCriteria patterns (parsed); a record must match one of them
    input_template: str
    source: str
    detail_type: str

    def matches(self, record):
        return any(matches(pattern, record) for pattern in self.patterns)

    def detail(self, record):
        """The InputTemplate applied to `record`, as a Python value."""
        text = render(self.input_template, record)
        try:
            return json.loads(text, object_pairs_hook=_no_duplicate_keys)
        except json.JSONDecodeError as e:
            raise PipeError(f"the input template gives no JSON ({e}): {text}") from e

    def apply(self, record):
        """The event the pipe would put on the bus for `record`, or None when filtered out."""
        if not self.matches(record):
            return None
        return {"source": self.source, "detail-type": self.detail_type, "detail": self.detail(record)}


def pipe_from_template(template, pipe_id=PIPE_ID):
    resource = template["Resources"][pipe_id]
    if resource["Type"] != "AWS::Pipes::Pipe":
        raise ValueError(f"{pipe_id} is a {resource['Type']}, not an AWS::Pipes::Pipe")
    props = resource["Properties"]
    if "Enrichment" in props:
        raise ValueError(f"{pipe_id} has an enrichment, which this module does not run")
    filters = props.get("SourceParameters", {}).get("FilterCriteria", {}).get("Filters", [])
    patterns = [json.loads(f["Pattern"]) for f in filters]
    target = props["TargetParameters"]
    bus = target["EventBridgeEventBusParameters"]
    for name in ("Source", "DetailType"):
        if not isinstance(bus[name], str) or bus[name].startswith("$"):
            raise ValueError(f"{pipe_id}: a dynamic or computed {name} is not supported")
    return Pipe(patterns=patterns or [{}], input_template=target["InputTemplate"],
                source=bus["Source"], detail_type=bus["DetailType"])


def load_pipe(path=TEMPLATE, pipe_id=PIPE_ID):
    return pipe_from_template(load_template(path), pipe_id)


def _no_duplicate_keys(pairs):
    keys = [k for k, _ in pairs]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise PipeError(f"the input template gives a JSON object with the key(s) {duplicates} twice")
    return dict(pairs)


# -- event patterns -----------------------------------------------------------------------------

_MISSING = object()


def _same(a, b):
    # JSON equality: 1 and true differ, "1" and 1 differ.
    return type(a) is type(b) and a == b or (
        isinstance(a, (int, float)) and isinstance(b, (int, float))
        and not isinstance(a, bool) and not isinstance(b, bool) and a == b)


def _leaf_matches(matcher, value):
    """One element of a pattern's list against one (non-array) value or _MISSING."""
    if isinstance(matcher, dict):
        if len(matcher) != 1:
            raise UnsupportedPattern(f"a matcher with {len(matcher)} keys: {matcher}")
        (op, arg), = matcher.items()
        if op == "exists":
            if not isinstance(arg, bool):
                raise UnsupportedPattern(f"exists takes true or false: {matcher}")
            # exists works on leaves: an object is not a leaf.
            present = value is not _MISSING and not isinstance(value, dict)
            return present == arg
        if value is _MISSING:
            return False
        if op == "prefix":
            if not isinstance(arg, str):
                raise UnsupportedPattern(f"prefix takes a string here: {matcher}")
            return isinstance(value, str) and value.startswith(arg)
        if op == "anything-but":
            excluded = arg if isinstance(arg, list) else [arg]
            if any(isinstance(x, dict) for x in excluded):
                raise UnsupportedPattern(f"anything-but with an operator: {matcher}")
            return not isinstance(value, dict) and not any(_same(value, x) for x in excluded)
        raise UnsupportedPattern(f"the operator {op!r} is not implemented: {matcher}")
    if isinstance(matcher, list):
        raise UnsupportedPattern(f"a list inside a pattern's list: {matcher}")
    return value is not _MISSING and _same(value, matcher)


def _values_match(matchers, value):
    if not isinstance(matchers, list):
        raise UnsupportedPattern(f"a pattern's leaf must be a list: {matchers!r}")
    # An array in the event matches when one of its elements does.
    candidates = value if isinstance(value, list) else [value]
    if isinstance(value, list) and not value:
        candidates = [_MISSING]
    return any(_leaf_matches(m, v) for m in matchers for v in candidates)


def matches(pattern, event):
    """Whether `event` matches the EventBridge event `pattern` (the subset described above)."""
    if not isinstance(pattern, dict):
        raise UnsupportedPattern(f"a pattern must be an object: {pattern!r}")
    for key, sub in pattern.items():
        if key.startswith("$"):
            raise UnsupportedPattern(f"the operator {key!r} is not implemented")
        value = event.get(key, _MISSING) if isinstance(event, dict) else _MISSING
        if isinstance(sub, dict):
            # A nested pattern: a missing object is an empty one (so that exists: false holds).
            if not matches(sub, value if isinstance(value, dict) else {}):
                return False
        elif not _values_match(sub, value):
            return False
    return True


# -- input templates ----------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"<(\$[^<>]*|aws\.pipes\.[A-Za-z.\-]+)>")
_SEGMENT = re.compile(r"\.([A-Za-z0-9_\-/]+)|\[(\d+)\]")


def placeholders(template):
    """The JSON paths (and reserved variables) an input template refers to, in order."""
    return [m.group(1) for m in _PLACEHOLDER.finditer(template)]


def resolve(path, record):
    """The value at a JSON path such as `$.dynamodb.Keys.UserId.S`; PipeError when missing."""
    if path.startswith("aws.pipes."):
        raise PipeError(f"the reserved variable <{path}> is not emulated")
    rest, value = path[1:], record
    while rest:
        m = _SEGMENT.match(rest)
        if not m:
            raise PipeError(f"unsupported JSON path syntax in <{path}> at {rest!r}")
        name, index = m.groups()
        if name is not None:
            if not isinstance(value, dict) or name not in value:
                raise PipeError(f"the record has no {path}")
            value = value[name]
        else:
            i = int(index)
            if not isinstance(value, list) or i >= len(value):
                raise PipeError(f"the record has no {path}")
            value = value[i]
        rest = rest[m.end():]
    return value


def _inside_string(text, end):
    """Whether position `end` of `text` lies inside a JSON string literal."""
    inside, escaped = False, False
    for ch in text[:end]:
        if escaped:
            escaped = False
        elif ch == "\\" and inside:
            escaped = True
        elif ch == '"':
            inside = not inside
    return inside


def render(template, record, strict=True):
    """The text the pipe sends for `record` (not parsed; the target receives this text).

    With `strict`, a string value holding `"` or `\\` is a PipeError: the pipe would insert it
    unescaped. Without, it is inserted as the pipe does."""
    out, last = [], 0
    for m in _PLACEHOLDER.finditer(template):
        out.append(template[last:m.start()])
        value = resolve(m.group(1), record)
        in_string = _inside_string(template, m.start())
        if strict and isinstance(value, str) and ('"' in value or "\\" in value):
            raise PipeError(f"the value of <{m.group(1)}> holds a quote or a backslash, which the "
                            "pipe inserts unescaped")
        if isinstance(value, str):
            # Never escaped: a `"` or `\` in the value ends up in the output as it is.
            out.append(value if in_string else f'"{value}"')
        elif isinstance(value, (dict, list)):
            text = json.dumps(value, separators=(",", ":"))
            out.append(text.replace('"', "") if in_string else text)
        else:
            out.append(json.dumps(value))
        last = m.end()
    out.append(template[last:])
    return "".join(out)


# -- the command line ---------------------------------------------------------------------------


def _plain(value):
    """boto3's parsed values back to the JSON the pipe receives (dates as epoch seconds)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime.datetime):
        seconds = value.timestamp()
        return int(seconds) if seconds == int(seconds) else seconds
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def stream_records(streams, table):
    """Every record of the table's latest stream, shard by shard (parents first)."""
    listed = streams.list_streams(TableName=table).get("Streams", [])
    if not listed:
        raise LookupError(f"the table {table} has no stream")
    stream_arn = max(listed, key=lambda s: s.get("StreamLabel", ""))["StreamArn"]
    shards, start = [], None
    while True:
        kwargs = {"StreamArn": stream_arn}
        if start:
            kwargs["ExclusiveStartShardId"] = start
        description = streams.describe_stream(**kwargs)["StreamDescription"]
        shards += description.get("Shards", [])
        start = description.get("LastEvaluatedShardId")
        if not start:
            break
    shards.sort(key=lambda s: int(s["SequenceNumberRange"]["StartingSequenceNumber"]))
    for shard in shards:
        iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while iterator:
            page = streams.get_records(ShardIterator=iterator)
            records = page.get("Records", [])
            for record in records:
                record = _plain(record)
                # The pipe's events carry the stream's ARN as well.
                record.setdefault("eventSourceARN", stream_arn)
                yield record
            # An open shard gives an iterator forever: an empty page means caught up.
            iterator = page.get("NextShardIterator") if records else None


def main(argv=None, stdout=None, stderr=None):
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    parser = argparse.ArgumentParser(
        prog="pipe_event.py",
        description="Print the security events template.yaml's pipe would publish for the "
                    "records of a table's DynamoDB stream (read from an emulator).",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint",
                        default=os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or os.environ.get("AWS_ENDPOINT_URL"),
                        help="DynamoDB Streams endpoint, e.g. http://127.0.0.1:5000 "
                             "(default: $AWS_ENDPOINT_URL_DYNAMODB, else $AWS_ENDPOINT_URL)")
    parser.add_argument("--table", required=True, help="the users table")
    parser.add_argument("--region",
                        default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
                        help="region (default: $AWS_REGION, else $AWS_DEFAULT_REGION, else us-east-1)")
    parser.add_argument("--template", default=str(TEMPLATE),
                        help="the SAM template holding the pipe (default: the project's template.yaml)")
    args = parser.parse_args(argv)
    if not args.endpoint:
        parser.error("--endpoint is required (or set AWS_ENDPOINT_URL)")

    import boto3
    import botocore.exceptions

    pipe = load_pipe(args.template)
    streams = boto3.client("dynamodbstreams", endpoint_url=args.endpoint, region_name=args.region)
    try:
        for record in stream_records(streams, args.table):
            try:
                event = pipe.apply(record)
            except PipeError as e:
                print(f"pipe_event.py: record {record.get('eventID')} ({record.get('eventName')}): {e}",
                      file=stderr)
                return 1
            if event is not None:
                print(json.dumps(event, sort_keys=True, separators=(",", ":")), file=stdout)
    except LookupError as e:
        print(f"pipe_event.py: {e}", file=stderr)
        return 2
    except botocore.exceptions.BotoCoreError as e:
        print(f"pipe_event.py: {e}", file=stderr)
        return 2
    except botocore.exceptions.ClientError as e:
        print(f"pipe_event.py: {e}", file=stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
