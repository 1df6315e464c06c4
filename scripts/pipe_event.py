#!/usr/bin/env python3
"""The security-event pipe of template.yaml, emulated locally on a table's DynamoDB stream.

template.yaml's `SecurityEventPipe` reads the users table's stream, keeps the records that its
FilterCriteria match, and hands them, in batches of at most its BatchSize records of one shard,
to its enrichment: the Lambda function built from the binary `security-event`, which answers an
array of the same length, one security event's detail (SPEC §7) per record. The pipe puts each
element on an EventBridge bus as the detail of one event (source `change-password`,
detail-type `Password Changed`), where a rule invokes the function `change-notice` with it.
This module emulates that path against emulators (moto or DynamoDB Local for the stream, a
Lambda invoke endpoint such as `cargo lambda watch` for the two functions):

  - a loader of template.yaml (PyYAML, with the CloudFormation tags as their long forms), and
    the pipe read from it: its filter, BatchSize, enrichment, and the event's source and
    detail-type; a pipe with an input template (of its target or of its enrichment) is refused,
    since none is applied here;
  - the subset of EventBridge event-pattern matching the filter may use: exact values, lists
    of values (any of them), nested objects, `exists`, `prefix` and `anything-but`; anything
    else is refused rather than guessed;
  - the records as the pipe receives them: DynamoDB Streams' GetRecords records (as boto3
    returns them) in the shape of Lambda's DynamoDB event records (`lambda_record`): eventID,
    eventName, eventVersion, eventSource, awsRegion, dynamodb {ApproximateCreationDateTime
    (epoch seconds), Keys, NewImage, OldImage, SequenceNumber, SizeBytes, StreamViewType},
    eventSourceARN, and userIdentity when the stream gives one. Attribute values stay DynamoDB
    JSON (numbers as strings, binary as base64). The images are the whole items, password
    hashes included: that is what the pipe hands the enrichment;
  - invocations through the Lambda Invoke API (`POST /2015-03-31/functions/<name>/invocations`),
    a function error (a non-2xx answer, an X-Amz-Function-Error header, or an
    errorType/errorMessage object) being an error;
  - a command line that reads every record of a table's latest stream and prints the batch the
    enrichment receives, or invokes the enrichment with it, prints the events, and hands each to
    `change-notice` as the EventBridge event the rule would deliver.

Library use (tests/pipe_event_test.py, tests/template_test.py):

    pipe = load_pipe()                    # from template.yaml
    pipe.matches(record)                  # whether the pipe's filter passes a stream record
    lambda_record(boto3_record, arn)      # a GetRecords record as the pipe hands it on

Run `scripts/pipe_event.py --help` for the command line.
"""

import argparse
import base64
import dataclasses
import datetime
import json
import math
import os
import pathlib
import sys
import urllib.error
import urllib.request
import uuid

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
PIPE_ID = "SecurityEventPipe"
# The functions, by the names of their binaries (cargo lambda watch serves each binary by name).
ENRICHMENT_FUNCTION = "security-event"
NOTICE_FUNCTION = "change-notice"
# The account of the EventBridge events handed to change-notice (moto's default account).
ACCOUNT = "123456789012"
# The fields of a Lambda DynamoDB event record's `dynamodb`, as GetRecords gives them.
STREAM_RECORD_FIELDS = ("ApproximateCreationDateTime", "Keys", "NewImage", "OldImage",
                        "SequenceNumber", "SizeBytes", "StreamViewType")

EPILOG = """\
output:
  Without --lambda: one line, a JSON array of every stream record the pipe's filter passes, in
  stream order (shard by shard, each in sequence order), in the shape the enrichment receives
  them (Lambda's DynamoDB event records: eventID, eventName, eventVersion, eventSource,
  awsRegion, dynamodb {ApproximateCreationDateTime, Keys, NewImage, OldImage, SequenceNumber,
  SizeBytes, StreamViewType}, eventSourceARN); [] when none passes. The images are the whole
  items, as the pipe hands them on.

  With --lambda URL: the records are sent, in batches of at most the pipe's BatchSize records
  of one shard, to the enrichment function security-event
  (POST URL/2015-03-31/functions/security-event/invocations), which must answer a JSON array of
  as many objects; each becomes one line, a JSON object with sorted keys and no spaces:
    {"detail":{...},"detail-type":"Password Changed","source":"change-password"}
  Nothing is invoked when no record passes the filter.

  With --deliver as well: after its line, each event is sent to change-notice
  (POST URL/2015-03-31/functions/change-notice/invocations) as the EventBridge event the rule
  delivers: {"version":"0","id":<uuid4>,"detail-type":...,"source":...,
  "account":"123456789012","time":<now, RFC 3339 UTC>,"region":<--region>,"resources":[],
  "detail":...}. The invocation is synchronous, so that its error is seen at once; EventBridge
  invokes asynchronously and retries, here nothing is retried. Running the command again
  delivers every event again, as a redelivery would.

  Nothing else goes to standard output; errors go to standard error.

exit status:
  0  every record was read; with --lambda, every invocation succeeded
  1  an invocation failed: the function answered an error (a non-2xx status, an
     X-Amz-Function-Error header, or an {"errorType", "errorMessage"} object), or the
     enrichment answered something other than an array of as many objects as records
  2  bad usage, a pipe in the template this module does not emulate, no stream on the table,
     the Streams API refused a call, or the Lambda endpoint did not answer

The records are read from the start of every shard (TRIM_HORIZON); the deployed pipe starts
at LATEST, when it is created. Credentials and region come from the usual AWS environment
(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION; any values for moto). A function served
by cargo lambda watch starts on its first invocation: the first answer can take seconds.

examples:
  scripts/pipe_event.py --endpoint http://127.0.0.1:5055 --table users-local
  scripts/pipe_event.py --endpoint http://127.0.0.1:5055 --table users-local \\
      --lambda http://127.0.0.1:9000 --deliver
"""


class InvocationError(Exception):
    """A function answered an error, or an answer the pipe cannot use."""


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


def load_template(path=None):
    """template.yaml (or `path`) as plain Python values (short tags as their long forms)."""
    return yaml.load(pathlib.Path(path or TEMPLATE).read_text(), Loader=_CfnLoader)


# -- the pipe -----------------------------------------------------------------------------------


@dataclasses.dataclass
class Pipe:
    patterns: list  # the FilterCriteria patterns (parsed); a record must match one of them
    enrichment: object  # the Enrichment property: the logical id of a !GetAtt X.Arn, else as written
    batch_size: int  # records per batch handed to the enrichment
    source: str
    detail_type: str

    def matches(self, record):
        """Whether the pipe's filter passes `record` (a record in the shape of lambda_record)."""
        return any(matches(pattern, record) for pattern in self.patterns)


def pipe_from_template(template, pipe_id=PIPE_ID):
    resource = template["Resources"][pipe_id]
    if resource["Type"] != "AWS::Pipes::Pipe":
        raise ValueError(f"{pipe_id} is a {resource['Type']}, not an AWS::Pipes::Pipe")
    props = resource["Properties"]
    if "Enrichment" not in props:
        raise ValueError(f"{pipe_id} has no enrichment, which this module expects")
    if "InputTemplate" in props.get("EnrichmentParameters", {}):
        raise ValueError(f"{pipe_id} has an input template for its enrichment, which this module does not apply")
    target = props["TargetParameters"]
    if "InputTemplate" in target:
        raise ValueError(f"{pipe_id} has an input template, which this module does not apply")
    enrichment = props["Enrichment"]
    get_att = enrichment.get("Fn::GetAtt") if isinstance(enrichment, dict) else None
    if isinstance(get_att, list) and len(get_att) == 2 and get_att[1] == "Arn":
        enrichment = get_att[0]
    source = props.get("SourceParameters", {})
    filters = source.get("FilterCriteria", {}).get("Filters", [])
    patterns = [json.loads(f["Pattern"]) for f in filters]
    # One record per batch when the template sets no BatchSize (this module's choice).
    batch_size = source.get("DynamoDBStreamParameters", {}).get("BatchSize", 1)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"{pipe_id}: a BatchSize of {batch_size!r} is not supported")
    bus = target["EventBridgeEventBusParameters"]
    for name in ("Source", "DetailType"):
        if not isinstance(bus[name], str) or bus[name].startswith("$"):
            raise ValueError(f"{pipe_id}: a dynamic or computed {name} is not supported")
    return Pipe(patterns=patterns or [{}], enrichment=enrichment, batch_size=batch_size,
                source=bus["Source"], detail_type=bus["DetailType"])


def load_pipe(path=None, pipe_id=PIPE_ID):
    """The pipe of template.yaml (or of the template at `path`)."""
    return pipe_from_template(load_template(path), pipe_id)


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


# -- stream records -----------------------------------------------------------------------------


def _plain(value):
    """boto3's parsed values back to JSON: bytes as base64, dates as epoch seconds rounded down
    (as DynamoDB Streams gives ApproximateCreationDateTime; moto keeps milliseconds)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime.datetime):
        return math.floor(value.timestamp())
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def _region_of(arn):
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else None


def lambda_record(record, stream_arn):
    """A record of DynamoDB Streams' GetRecords, as boto3 returns it, in the shape the pipe hands
    it on (Lambda's DynamoDB event record): the stream's ARN added, the `dynamodb` fields Lambda
    passes, values as JSON. awsRegion is the stream's (moto's GetRecords says us-east-1 whatever
    the table's region)."""
    streamed = record.get("dynamodb", {})
    out = {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": record["eventVersion"],
        "eventSource": record["eventSource"],
        "awsRegion": _region_of(stream_arn) or record["awsRegion"],
        "dynamodb": {k: _plain(streamed[k]) for k in STREAM_RECORD_FIELDS if k in streamed},
        "eventSourceARN": stream_arn,
    }
    if "userIdentity" in record:
        out["userIdentity"] = _plain(record["userIdentity"])
    return out


def stream_shards(streams, table):
    """The table's latest stream, shard by shard (parents first): [(shard id, [record])], each
    record as lambda_record gives it."""
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
    out = []
    for shard in shards:
        records = []
        iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while iterator:
            page = streams.get_records(ShardIterator=iterator)
            page_records = page.get("Records", [])
            records += [lambda_record(r, stream_arn) for r in page_records]
            # An open shard gives an iterator forever: an empty page means caught up.
            iterator = page.get("NextShardIterator") if page_records else None
        out.append((shard["ShardId"], records))
    return out


def stream_records(streams, table):
    """Every record of the table's latest stream, in stream order (see stream_shards)."""
    return [r for _, records in stream_shards(streams, table) for r in records]


def batches(pipe, shards):
    """The batches the pipe hands its enrichment: the records its filter passes, at most
    BatchSize of one shard each, in stream order."""
    for _, records in shards:
        passed = [r for r in records if pipe.matches(r)]
        for i in range(0, len(passed), pipe.batch_size):
            yield passed[i:i + pipe.batch_size]


# -- the functions ------------------------------------------------------------------------------


def invoke(url, function, payload, timeout=120):
    """The answer (parsed JSON, None when empty) of `function` invoked synchronously with
    `payload` through the Lambda Invoke API at `url`. InvocationError when it answers an error
    or no JSON; OSError (urllib.error.URLError, TimeoutError) when the endpoint does not answer."""
    request = urllib.request.Request(
        f"{url.rstrip('/')}/2015-03-31/functions/{function}/invocations",
        data=json.dumps(payload).encode(), method="POST",
        headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            function_error = response.headers.get("X-Amz-Function-Error")
            body = response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        # cargo lambda watch answers a function error with 500 and the error object, a function
        # it does not serve with 404.
        body = e.read().decode("utf-8", "replace")
        raise InvocationError(f"{function} failed (HTTP {e.code}): {body}") from e
    if function_error:
        raise InvocationError(f"{function} failed ({function_error}): {body}")
    try:
        answer = json.loads(body) if body.strip() else None
    except json.JSONDecodeError as e:
        raise InvocationError(f"{function} answered no JSON: {body[:500]}") from e
    if isinstance(answer, dict) and {"errorType", "errorMessage"} <= answer.keys():
        raise InvocationError(f"{function} failed: {body}")
    return answer


def enrich(url, batch, timeout=120):
    """The enrichment's answer for `batch`: one detail (an object) per record, in order."""
    answer = invoke(url, ENRICHMENT_FUNCTION, batch, timeout)
    if not isinstance(answer, list) or len(answer) != len(batch):
        got = f"an array of {len(answer)}" if isinstance(answer, list) else json.dumps(answer)[:500]
        raise InvocationError(f"{ENRICHMENT_FUNCTION} answered {got} for a batch of {len(batch)} "
                              "records; the pipe needs one event per record")
    for i, detail in enumerate(answer):
        if not isinstance(detail, dict):
            raise InvocationError(f"{ENRICHMENT_FUNCTION} answered {json.dumps(detail)[:200]} for record "
                                  f"{batch[i].get('eventID')}: an event's detail is a JSON object")
    return answer


def eventbridge_event(event, region, now=None):
    """`event` ({"source", "detail-type", "detail"}) as EventBridge delivers it to a rule's
    Lambda target."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": event["detail-type"],
            "source": event["source"], "account": ACCOUNT,
            "time": now.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": region, "resources": [], "detail": event["detail"]}


# -- the command line ---------------------------------------------------------------------------


def _line(value, sort_keys=True):
    return json.dumps(value, sort_keys=sort_keys, separators=(",", ":"))


def main(argv=None, stdout=None, stderr=None):
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    parser = argparse.ArgumentParser(
        prog="pipe_event.py",
        description="Emulate template.yaml's security-event pipe on a table's DynamoDB stream "
                    "(read from an emulator): print the batch its enrichment receives, or run the "
                    "enrichment and change-notice on a Lambda invoke endpoint.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint",
                        default=os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or os.environ.get("AWS_ENDPOINT_URL"),
                        help="DynamoDB Streams endpoint, e.g. http://127.0.0.1:5055 "
                             "(default: $AWS_ENDPOINT_URL_DYNAMODB, else $AWS_ENDPOINT_URL)")
    parser.add_argument("--table", required=True, help="the users table")
    parser.add_argument("--region",
                        default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
                        help="region, also the events' (default: $AWS_REGION, else $AWS_DEFAULT_REGION, "
                             "else us-east-1)")
    parser.add_argument("--template", default=str(TEMPLATE),
                        help="the SAM template holding the pipe (default: the project's template.yaml)")
    parser.add_argument("--lambda", dest="lambda_url", metavar="URL",
                        help="a Lambda invoke endpoint serving security-event (and change-notice), "
                             "e.g. cargo lambda watch's http://127.0.0.1:9000: invoke the enrichment "
                             "and print the events")
    parser.add_argument("--deliver", action="store_true",
                        help="with --lambda: invoke change-notice with each event, as the rule does")
    parser.add_argument("--timeout", type=float, default=120, metavar="SECONDS",
                        help="how long to wait for each invocation's answer (default: 120)")
    args = parser.parse_args(argv)
    if not args.endpoint:
        parser.error("--endpoint is required (or set AWS_ENDPOINT_URL)")
    if args.deliver and not args.lambda_url:
        parser.error("--deliver needs --lambda")

    import boto3
    import botocore.exceptions

    try:
        pipe = load_pipe(args.template)
    except (ValueError, KeyError) as e:
        print(f"pipe_event.py: {args.template}: {e}", file=stderr)
        return 2
    streams = boto3.client("dynamodbstreams", endpoint_url=args.endpoint, region_name=args.region)
    try:
        shards = stream_shards(streams, args.table)
    except LookupError as e:
        print(f"pipe_event.py: {e}", file=stderr)
        return 2
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        print(f"pipe_event.py: {e}", file=stderr)
        return 2

    if not args.lambda_url:
        passed = [r for _, records in shards for r in records if pipe.matches(r)]
        print(_line(passed, sort_keys=False), file=stdout)
        return 0

    for batch in batches(pipe, shards):
        try:
            details = enrich(args.lambda_url, batch, args.timeout)
        except InvocationError as e:
            ids = ", ".join(str(r.get("eventID")) for r in batch)
            print(f"pipe_event.py: the batch of record(s) {ids}: {e}", file=stderr)
            return 1
        except OSError as e:
            print(f"pipe_event.py: {args.lambda_url} did not answer: {e}", file=stderr)
            return 2
        for record, detail in zip(batch, details):
            event = {"source": pipe.source, "detail-type": pipe.detail_type, "detail": detail}
            print(_line(event), file=stdout, flush=True)
            if not args.deliver:
                continue
            try:
                invoke(args.lambda_url, NOTICE_FUNCTION, eventbridge_event(event, args.region), args.timeout)
            except InvocationError as e:
                print(f"pipe_event.py: the event of record {record.get('eventID')}: {e}", file=stderr)
                return 1
            except OSError as e:
                print(f"pipe_event.py: {args.lambda_url} did not answer: {e}", file=stderr)
                return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
