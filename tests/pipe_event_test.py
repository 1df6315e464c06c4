"""scripts/pipe_event.py: template.yaml's security-event pipe (its filter, the batch its
enrichment receives, the events and their delivery to change-notice), against a moto server
for the stream and a local HTTP server playing the Lambda invoke endpoint of the two functions.

Run: .venv/bin/python -m unittest tests/pipe_event_test.py -v
(stdlib unittest; PyYAML, boto3 and moto from the project's .venv.)
"""

import contextlib
import datetime
import http.server
import io
import json
import logging
import os
import pathlib
import re
import socket
import sys
import threading
import time
import unittest
import uuid

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import pipe_event  # noqa: E402

TABLE = "users-pipe-test"
STREAM_ARN = f"arn:aws:dynamodb:eu-west-1:123456789012:table/{TABLE}/stream/2026-01-01T00:00:00.000"
USER = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
HASH = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA"
OLD_HASH = "$argon2id$v=19$m=19456,t=2,p=1$b2xkc2FsdG9sZHNhbHQ$b2xkaGFzaG9sZGhhc2hvbGRoYXNob2xkaA"
EVENTS = ROOT / "events"


def last_change(request_id="c0ffee00-0000-4000-8000-000000000001", source_ip="203.0.113.7",
                user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0", at="1764288000"):
    return {"M": {"RequestId": {"S": request_id}, "SourceIp": {"S": source_ip},
                  "UserAgent": {"S": user_agent}, "At": {"N": at}}}


def item(version=None, marker=False, change=None, failed=None, history=True, user=USER):
    """A users-table item in attribute-value JSON, as a stream image holds it."""
    out = {"UserId": {"S": user}, "PasswordHash": {"S": HASH}, "Email": {"S": "alice@example.com"}}
    if history:
        out["PasswordHistory"] = {"L": [{"S": OLD_HASH}]}
        out["PreviousPasswordHash"] = {"S": OLD_HASH}
    if version is not None:
        out["PasswordVersion"] = {"N": str(version)}
        out["PasswordChangedAt"] = {"S": "2025-11-28T00:00:00Z"}
        out["TokensValidAfter"] = {"N": "1764288000"}
        out["PasswordChangeSession"] = {"M": {"jti": {"S": "jti-1"}, "sid": {"S": "sid-1"}}}
        out["LastPasswordChange"] = change or last_change()
    if marker:
        out["PasswordChangeEvent"] = {"N": str(version)}
    if failed is not None:
        out["FailedPasswordAttempts"] = {"N": str(failed)}
    return out


def record(event_name, new=None, old=None, sequence="100000000000000000001"):
    """A stream record exactly as the pipe hands it on (lambda_record's shape)."""
    dynamodb = {"ApproximateCreationDateTime": 1764288000, "Keys": {"UserId": {"S": USER}},
                "SequenceNumber": sequence, "SizeBytes": 512, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    if new is not None:
        dynamodb["NewImage"] = new
    if old is not None:
        dynamodb["OldImage"] = old
    return {"eventID": "7de3041dd709b024af6f29e4fa13d34c", "eventName": event_name, "eventVersion": "1.1",
            "eventSource": "aws:dynamodb", "awsRegion": "eu-west-1", "dynamodb": dynamodb,
            "eventSourceARN": STREAM_ARN}


def change_record(**change):
    """The change's own write: the marker set, LastPasswordChange written, version 3."""
    return record("MODIFY", new=item(version=3, marker=True, change=last_change(**change)),
                  old=item(version=2, failed=0))


def sample(name):
    return json.loads((EVENTS / name).read_text())


def function_binaries(template):
    """{logical id: cargo-lambda binary} of the template's functions."""
    return {name: r.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
            for name, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}


def event_patterns_invoking(template, function):
    """The event patterns of the rules that target `function` (a logical id): AWS::Events::Rule
    resources, and the function's own EventBridgeRule events."""
    patterns = []
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Events::Rule":
            if any(t.get("Arn") == {"Fn::GetAtt": [function, "Arn"]} for t in props.get("Targets", [])):
                patterns.append(props["EventPattern"])
    for event in template["Resources"][function]["Properties"].get("Events", {}).values():
        if event.get("Type") == "EventBridgeRule":
            patterns.append(event["Properties"]["Pattern"])
    return [json.loads(p) if isinstance(p, str) else p for p in patterns]


class PipeFromTemplateTest(unittest.TestCase):
    """The pipe of template.yaml: which stream records its filter passes, and its enrichment."""

    @classmethod
    def setUpClass(cls):
        cls.pipe = pipe_event.load_pipe()

    def test_the_change_write_passes(self):
        self.assertTrue(self.pipe.matches(change_record()))

    def test_an_insert_with_the_marker_passes_too(self):
        # The filter takes INSERT and MODIFY; only the change's write sets the marker.
        self.assertTrue(self.pipe.matches(record("INSERT", new=item(version=3, marker=True))))

    def test_a_counter_write_does_not(self):
        # Attempt counting removes the marker: its new image has none, whatever the old one had.
        after_change = record("MODIFY", new=item(version=3, failed=1), old=item(version=3, marker=True))
        self.assertFalse(self.pipe.matches(after_change))
        before_any_change = record("MODIFY", new=item(failed=2), old=item(failed=1))
        self.assertFalse(self.pipe.matches(before_any_change))

    def test_an_insert_without_the_marker_does_not(self):
        # Provisioning (seed-user's PutItem) of a new account.
        self.assertFalse(self.pipe.matches(record("INSERT", new=item())))
        # ... and of an account that had changed its password elsewhere.
        self.assertFalse(self.pipe.matches(record("INSERT", new=item(version=3))))

    def test_a_remove_does_not(self):
        # Even right after a change: a REMOVE has no new image.
        self.assertFalse(self.pipe.matches(record("REMOVE", old=item(version=3, marker=True))))

    def test_other_event_names_do_not(self):
        self.assertFalse(self.pipe.matches(dict(change_record(), eventName="UPDATE")))

    def test_the_sample_enrichment_batch_is_what_the_filter_passes(self):
        batch = sample("pipe-enrichment-batch.json")
        self.assertTrue(batch)
        for r in batch:
            self.assertTrue(self.pipe.matches(r), r["eventID"])
            self.assertEqual(list(r), ["eventID", "eventName", "eventVersion", "eventSource", "awsRegion",
                                       "dynamodb", "eventSourceARN"])

    def test_the_enrichment_is_the_security_event_function(self):
        template = pipe_event.load_template()
        self.assertEqual(function_binaries(template).get(self.pipe.enrichment), pipe_event.ENRICHMENT_FUNCTION)
        self.assertEqual(self.pipe.batch_size, 10)
        self.assertEqual((self.pipe.source, self.pipe.detail_type), ("change-password", "Password Changed"))

    def test_a_rule_of_the_template_invokes_change_notice_with_the_event(self):
        template = pipe_event.load_template()
        notice = [name for name, binary in function_binaries(template).items()
                  if binary == pipe_event.NOTICE_FUNCTION]
        self.assertEqual(len(notice), 1, "one function built from the change-notice binary")
        patterns = event_patterns_invoking(template, notice[0])
        self.assertTrue(patterns, "an EventBridge rule targets change-notice")
        event = pipe_event.eventbridge_event(
            {"source": self.pipe.source, "detail-type": self.pipe.detail_type,
             "detail": sample("eventbridge-password-changed.json")["detail"]}, "eu-west-1")
        self.assertTrue(any(pipe_event.matches(p, event) for p in patterns))
        self.assertFalse(any(pipe_event.matches(p, dict(event, source="other")) for p in patterns))

    def test_loader_reads_the_cloudformation_tags(self):
        template = pipe_event.load_template()
        pipe = template["Resources"]["SecurityEventPipe"]["Properties"]
        self.assertEqual(pipe["RoleArn"], {"Fn::GetAtt": ["SecurityEventPipeRole", "Arn"]})
        self.assertEqual(set(pipe["Target"]), {"Fn::If"})


class PipeShapesTest(unittest.TestCase):
    """What pipe_from_template accepts: an enrichment, no input template."""

    def template(self, **props):
        base = {"RoleArn": "r", "Source": "s", "Target": "t", "Enrichment": {"Fn::GetAtt": ["Enricher", "Arn"]},
                "SourceParameters": {"FilterCriteria": {"Filters": [{"Pattern": '{"eventName": ["MODIFY"]}'}]},
                                     "DynamoDBStreamParameters": {"StartingPosition": "LATEST", "BatchSize": 3}},
                "TargetParameters": {"EventBridgeEventBusParameters": {"Source": "src", "DetailType": "dt"}}}
        base.update(props)
        return {"Resources": {"SecurityEventPipe": {"Type": "AWS::Pipes::Pipe", "Properties": base}}}

    def test_the_pipe_read(self):
        pipe = pipe_event.pipe_from_template(self.template())
        self.assertEqual((pipe.enrichment, pipe.batch_size, pipe.source, pipe.detail_type),
                         ("Enricher", 3, "src", "dt"))
        self.assertTrue(pipe.matches({"eventName": "MODIFY"}))
        self.assertFalse(pipe.matches({"eventName": "INSERT"}))

    def test_an_input_template_or_no_enrichment_is_refused(self):
        target = {"EventBridgeEventBusParameters": {"Source": "src", "DetailType": "dt"}, "InputTemplate": "{}"}
        for template in (self.template(TargetParameters=target),
                         self.template(EnrichmentParameters={"InputTemplate": "{}"})):
            with self.subTest(template=template), self.assertRaisesRegex(ValueError, "input template"):
                pipe_event.pipe_from_template(template)
        without = self.template()
        del without["Resources"]["SecurityEventPipe"]["Properties"]["Enrichment"]
        with self.assertRaisesRegex(ValueError, "no enrichment"):
            pipe_event.pipe_from_template(without)

    def test_batches_are_per_shard_and_at_most_batch_size(self):
        pipe = pipe_event.pipe_from_template(self.template())
        passing = [{"eventName": "MODIFY", "n": i} for i in range(7)]
        shards = [("a", passing[:5] + [{"eventName": "REMOVE"}]), ("b", []), ("c", passing[5:])]
        self.assertEqual([[r["n"] for r in b] for b in pipe_event.batches(pipe, shards)],
                         [[0, 1, 2], [3, 4], [5, 6]])


class RecordShapeTest(unittest.TestCase):
    """GetRecords' records (as boto3 returns them) in the shape the pipe hands on."""

    def boto3_record(self, **overrides):
        """The sample batch's record as boto3's get_records gives it (moto's quirks included)."""
        lambda_shape = sample("pipe-enrichment-batch.json")[0]
        dynamodb = dict(lambda_shape["dynamodb"])
        # A datetime (moto keeps the milliseconds, DynamoDB rounds down to the second).
        dynamodb["ApproximateCreationDateTime"] = datetime.datetime.fromtimestamp(
            dynamodb["ApproximateCreationDateTime"] + 0.789, datetime.timezone(datetime.timedelta(hours=2)))
        out = {k: v for k, v in lambda_shape.items() if k != "eventSourceARN"}
        out.update(dynamodb=dynamodb, awsRegion="us-east-1", **overrides)
        return out

    def test_the_sample_batch_is_the_mapping_of_what_get_records_gives(self):
        expected = sample("pipe-enrichment-batch.json")[0]
        got = pipe_event.lambda_record(self.boto3_record(), expected["eventSourceARN"])
        self.assertEqual(got, expected)
        self.assertEqual(list(got), list(expected))
        self.assertIsInstance(got["dynamodb"]["ApproximateCreationDateTime"], int)

    def test_binary_values_become_base64_and_unknown_fields_are_dropped(self):
        raw = self.boto3_record(somethingNew="x")
        raw["dynamodb"] = dict(raw["dynamodb"], Unknown=1, NewImage={
            "UserId": {"S": "u"}, "Blob": {"B": b"\x00\xff"}, "Blobs": {"BS": [b"a", b"b"]},
            "Nested": {"M": {"B": {"B": b"x"}, "L": {"L": [{"N": "1"}, {"NULL": True}]}}}})
        got = pipe_event.lambda_record(raw, STREAM_ARN)
        self.assertNotIn("somethingNew", got)
        self.assertNotIn("Unknown", got["dynamodb"])
        self.assertEqual(got["dynamodb"]["NewImage"], {
            "UserId": {"S": "u"}, "Blob": {"B": "AP8="}, "Blobs": {"BS": ["YQ==", "Yg=="]},
            "Nested": {"M": {"B": {"B": "eA=="}, "L": {"L": [{"N": "1"}, {"NULL": True}]}}}})
        json.dumps(got)

    def test_a_ttl_deletion_keeps_its_user_identity(self):
        identity = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
        raw = self.boto3_record(eventName="REMOVE", userIdentity=identity)
        self.assertEqual(pipe_event.lambda_record(raw, STREAM_ARN)["userIdentity"], identity)

    def test_the_region_is_the_streams(self):
        self.assertEqual(pipe_event.lambda_record(self.boto3_record(), STREAM_ARN)["awsRegion"], "eu-west-1")


class PatternTest(unittest.TestCase):
    """The event-pattern subset."""

    def test_exact_values_lists_and_nesting(self):
        pattern = {"a": ["x", "y"], "b": {"c": [1]}}
        self.assertTrue(pipe_event.matches(pattern, {"a": "y", "b": {"c": 1}, "z": 0}))
        self.assertFalse(pipe_event.matches(pattern, {"a": "z", "b": {"c": 1}}))
        self.assertFalse(pipe_event.matches(pattern, {"a": "x", "b": {"c": "1"}}))  # types differ
        self.assertFalse(pipe_event.matches(pattern, {"a": "x"}))
        self.assertFalse(pipe_event.matches({"a": [True]}, {"a": 1}))
        # An array in the event matches when one element does.
        self.assertTrue(pipe_event.matches({"a": ["x"]}, {"a": ["w", "x"]}))

    def test_exists(self):
        present = {"a": {"b": [{"exists": True}]}}
        absent = {"a": {"b": [{"exists": False}]}}
        self.assertTrue(pipe_event.matches(present, {"a": {"b": "1"}}))
        self.assertFalse(pipe_event.matches(present, {"a": {}}))
        self.assertFalse(pipe_event.matches(present, {}))
        self.assertFalse(pipe_event.matches(present, {"a": {"b": {"c": 1}}}), "exists is for leaves")
        self.assertTrue(pipe_event.matches(absent, {"a": {}}))
        self.assertTrue(pipe_event.matches(absent, {}))
        self.assertFalse(pipe_event.matches(absent, {"a": {"b": ""}}))

    def test_prefix_and_anything_but(self):
        self.assertTrue(pipe_event.matches({"a": [{"prefix": "ab"}]}, {"a": "abc"}))
        self.assertFalse(pipe_event.matches({"a": [{"prefix": "ab"}]}, {"a": "cab"}))
        self.assertTrue(pipe_event.matches({"a": [{"anything-but": ["x", "y"]}]}, {"a": "z"}))
        self.assertFalse(pipe_event.matches({"a": [{"anything-but": "x"}]}, {"a": "x"}))
        self.assertFalse(pipe_event.matches({"a": [{"anything-but": "x"}]}, {}))

    def test_what_is_not_implemented_is_refused(self):
        for pattern in ({"a": [{"numeric": [">", 1]}]}, {"a": [{"suffix": "x"}]},
                        {"$or": [{"a": ["x"]}]}, {"a": "x"}, {"a": [{"exists": True, "prefix": "x"}]}):
            with self.subTest(pattern=pattern), self.assertRaises(pipe_event.UnsupportedPattern):
                pipe_event.matches(pattern, {"a": "x"})


@contextlib.contextmanager
def moto_server():
    from moto.server import ThreadedMotoServer
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


class FakeLambda:
    """A Lambda invoke endpoint (as cargo lambda watch serves one) playing security-event and
    change-notice: it keeps what is POSTed, and answers what `answers[function](payload)`
    gives: (status, body, headers)."""

    def __init__(self):
        self.calls = []  # (function, payload)
        self.answers = {
            pipe_event.ENRICHMENT_FUNCTION: lambda batch: (200, [self.detail(r) for r in batch], {}),
            pipe_event.NOTICE_FUNCTION: lambda event: (200, None, {}),
        }
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                m = re.fullmatch(r"/2015-03-31/functions/([^/]+)/invocations", self.path)
                payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if not m or m.group(1) not in fake.answers:
                    status, body, headers = 404, {"title": "Missing function"}, {}
                else:
                    fake.calls.append((m.group(1), payload))
                    status, body, headers = fake.answers[m.group(1)](payload)
                data = (body if isinstance(body, str) else json.dumps(body)).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @staticmethod
    def detail(r):
        """A stand-in for security-event's output: what the record says, with JSON numbers."""
        new = r["dynamodb"]["NewImage"]
        return {"jti": new["LastPasswordChange"]["M"]["RequestId"]["S"],
                "sub_id": {"format": "opaque", "id": r["dynamodb"]["Keys"]["UserId"]["S"]},
                "change": {"password_version": int(new["PasswordVersion"]["N"])}}

    def calls_to(self, function):
        return [payload for name, payload in self.calls if name == function]

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class CommandLineTest(unittest.TestCase):
    """The command line against a moto server and a fake Lambda endpoint."""

    @classmethod
    def setUpClass(cls):
        cls.env = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
        os.environ["AWS_ACCESS_KEY_ID"] = "testing"
        os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
        cls.server = moto_server()
        cls.endpoint = cls.server.__enter__()
        cls.tables = 0

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__(None, None, None)
        for k, v in cls.env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    def setUp(self):
        self.fake = FakeLambda()
        self.addCleanup(self.fake.close)

    def client(self):
        import boto3
        return boto3.client("dynamodb", endpoint_url=self.endpoint, region_name="eu-west-1")

    def run_cli(self, *args):
        out, err = io.StringIO(), io.StringIO()
        code = pipe_event.main(["--endpoint", self.endpoint, "--region", "eu-west-1", *args],
                               stdout=out, stderr=err)
        return code, out.getvalue(), err.getvalue()

    def create_table(self, stream=True):
        type(self).tables += 1
        name = f"{TABLE}-{self.tables}"
        spec = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"} if stream else {"StreamEnabled": False}
        self.client().create_table(
            TableName=name, BillingMode="PAY_PER_REQUEST", StreamSpecification=spec,
            KeySchema=[{"AttributeName": "UserId", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "UserId", "AttributeType": "S"}])
        return name

    def change(self, table, user=USER, version=3, request_id="c0ffee00-0000-4000-8000-000000000001"):
        """The change's write (the marker set), as the function makes it."""
        change = item(version=version, marker=True, change=last_change(request_id=request_id), user=user)
        self.client().update_item(
            TableName=table, Key={"UserId": {"S": user}},
            UpdateExpression="SET PasswordHash = :h, PasswordVersion = :v, TokensValidAfter = :t, "
                             "PasswordChangeSession = :s, LastPasswordChange = :l, PasswordChangeEvent = :v",
            ExpressionAttributeValues={":h": {"S": HASH}, ":v": {"N": str(version)}, ":t": change["TokensValidAfter"],
                                       ":s": change["PasswordChangeSession"], ":l": change["LastPasswordChange"]})
        return change

    def counter(self, table, n, user=USER):
        self.client().update_item(
            TableName=table, Key={"UserId": {"S": user}},
            UpdateExpression="SET FailedPasswordAttempts = :n REMOVE PasswordChangeEvent",
            ExpressionAttributeValues={":n": {"N": str(n)}})

    def a_change_among_other_writes(self):
        """Provisioning, a wrong current password, the attempt of the change, the change, a later
        attempt that removes the marker, and the account's deletion: one record passes."""
        table = self.create_table()
        db, key = self.client(), {"UserId": {"S": USER}}
        db.put_item(TableName=table, Item=item(history=False))
        self.counter(table, 1)
        self.counter(table, 0)
        before = db.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
        self.change(table)
        after = db.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
        self.counter(table, 1)
        db.delete_item(TableName=table, Key=key)
        return table, before, after

    def stream_arn(self, table):
        return self.client().describe_table(TableName=table)["Table"]["LatestStreamArn"]

    def test_prints_the_batch_the_enrichment_receives(self):
        table, before, after = self.a_change_among_other_writes()
        started = time.time()
        code, out, err = self.run_cli("--table", table)
        self.assertEqual((code, err), (0, ""))
        self.assertEqual(out.count("\n"), 1)
        self.assertTrue(out.endswith("]\n"))
        batch = json.loads(out)
        self.assertEqual(len(batch), 1)
        r = batch[0]
        self.assertEqual(list(r), ["eventID", "eventName", "eventVersion", "eventSource", "awsRegion",
                                   "dynamodb", "eventSourceARN"])
        self.assertEqual((r["eventName"], r["eventSource"], r["awsRegion"], r["eventSourceARN"]),
                         ("MODIFY", "aws:dynamodb", "eu-west-1", self.stream_arn(table)))
        self.assertRegex(r["eventID"], r"^\S+$")
        self.assertIn(r["eventVersion"], ("1.0", "1.1"))
        d = r["dynamodb"]
        self.assertEqual(list(d), ["ApproximateCreationDateTime", "Keys", "NewImage", "OldImage",
                                   "SequenceNumber", "SizeBytes", "StreamViewType"])
        self.assertEqual((d["Keys"], d["NewImage"], d["OldImage"], d["StreamViewType"]),
                         ({"UserId": {"S": USER}}, after, before, "NEW_AND_OLD_IMAGES"))
        self.assertIsInstance(d["ApproximateCreationDateTime"], int)
        self.assertLessEqual(abs(d["ApproximateCreationDateTime"] - started), 60)
        self.assertRegex(d["SequenceNumber"], r"^\d+$")
        self.assertIsInstance(d["SizeBytes"], int)
        self.assertEqual(self.fake.calls, [])

    def test_nothing_passes_gives_an_empty_array(self):
        table = self.create_table()
        self.client().put_item(TableName=table, Item=item())
        self.assertEqual(self.run_cli("--table", table), (0, "[]\n", ""))

    def test_lambda_invokes_the_enrichment_with_that_batch_and_prints_its_events(self):
        table, _, _ = self.a_change_among_other_writes()
        self.change(table, user="second-user", version=1, request_id="req-2")
        _, printed, _ = self.run_cli("--table", table)
        code, out, err = self.run_cli("--table", table, "--lambda", self.fake.url)
        self.assertEqual((code, err), (0, ""))
        self.assertEqual(self.fake.calls_to(pipe_event.ENRICHMENT_FUNCTION), [json.loads(printed)])
        self.assertEqual(self.fake.calls_to(pipe_event.NOTICE_FUNCTION), [])
        self.assertEqual(out.splitlines(), [
            '{"detail":{"change":{"password_version":3},"jti":"c0ffee00-0000-4000-8000-000000000001",'
            f'"sub_id":{{"format":"opaque","id":"{USER}"}}}},'
            '"detail-type":"Password Changed","source":"change-password"}',
            '{"detail":{"change":{"password_version":1},"jti":"req-2",'
            '"sub_id":{"format":"opaque","id":"second-user"}},'
            '"detail-type":"Password Changed","source":"change-password"}'])

    def test_deliver_hands_each_event_to_change_notice_as_eventbridge_delivers_it(self):
        table, _, _ = self.a_change_among_other_writes()
        self.change(table, user="second-user", version=1, request_id="req-2")
        started = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        code, out, err = self.run_cli("--table", table, "--lambda", self.fake.url, "--deliver")
        self.assertEqual((code, err), (0, ""))
        events = [json.loads(line) for line in out.splitlines()]
        delivered = self.fake.calls_to(pipe_event.NOTICE_FUNCTION)
        self.assertEqual(len(delivered), 2)
        shape = sample("eventbridge-password-changed.json")
        for event, notice in zip(events, delivered):
            self.assertEqual(list(notice), list(shape))
            self.assertEqual(notice["detail"], event["detail"])
            self.assertEqual((notice["version"], notice["source"], notice["detail-type"], notice["account"],
                              notice["region"], notice["resources"]),
                             ("0", "change-password", "Password Changed", "123456789012", "eu-west-1", []))
            self.assertEqual(uuid.UUID(notice["id"]).version, 4)
            self.assertRegex(notice["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
            at = datetime.datetime.strptime(notice["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
            self.assertLessEqual(abs((at - started).total_seconds()), 60)
        self.assertNotEqual(delivered[0]["id"], delivered[1]["id"])
        # The order of the calls: the batch, then each event.
        self.assertEqual([name for name, _ in self.fake.calls],
                         [pipe_event.ENRICHMENT_FUNCTION, pipe_event.NOTICE_FUNCTION, pipe_event.NOTICE_FUNCTION])

    def test_batches_hold_at_most_the_pipes_batch_size(self):
        table = self.create_table()
        for i in range(12):
            self.change(table, user=f"user-{i:02}", version=1, request_id=f"req-{i:02}")
        code, out, err = self.run_cli("--table", table, "--lambda", self.fake.url)
        self.assertEqual((code, err), (0, ""))
        sizes = [len(b) for b in self.fake.calls_to(pipe_event.ENRICHMENT_FUNCTION)]
        self.assertEqual(sizes, [10, 2])
        self.assertEqual([json.loads(line)["detail"]["jti"] for line in out.splitlines()],
                         [f"req-{i:02}" for i in range(12)])

    def test_nothing_passes_invokes_nothing(self):
        table = self.create_table()
        self.client().put_item(TableName=table, Item=item())
        self.assertEqual(self.run_cli("--table", table, "--lambda", self.fake.url, "--deliver"), (0, "", ""))
        self.assertEqual(self.fake.calls, [])

    def test_an_enrichment_error_is_exit_status_1(self):
        table, _, _ = self.a_change_among_other_writes()
        error = {"errorType": "&str", "errorMessage": "the record has no new image"}
        for answer in (lambda batch: (500, error, {}),
                       lambda batch: (200, error, {}),
                       lambda batch: (200, error, {"X-Amz-Function-Error": "Unhandled"}),
                       lambda batch: (200, "not json", {})):
            with self.subTest(answer=answer):
                self.fake.answers[pipe_event.ENRICHMENT_FUNCTION] = answer
                code, out, err = self.run_cli("--table", table, "--lambda", self.fake.url, "--deliver")
                self.assertEqual((code, out), (1, ""))
                self.assertIn(pipe_event.ENRICHMENT_FUNCTION, err)
        self.assertEqual(self.fake.calls_to(pipe_event.NOTICE_FUNCTION), [])

    def test_fewer_or_more_events_than_records_is_exit_status_1(self):
        table, _, _ = self.a_change_among_other_writes()
        for answer, words in (([], "an array of 0 for a batch of 1"),
                              ([{"a": 1}, {"b": 2}], "an array of 2 for a batch of 1"),
                              ({"a": 1}, '{"a": 1} for a batch of 1'),
                              (None, "null for a batch of 1"),
                              (["x"], "a JSON object")):
            with self.subTest(answer=answer):
                self.fake.answers[pipe_event.ENRICHMENT_FUNCTION] = lambda batch, a=answer: (200, a, {})
                code, out, err = self.run_cli("--table", table, "--lambda", self.fake.url, "--deliver")
                self.assertEqual((code, out), (1, ""))
                self.assertIn(words, err)
        self.assertEqual(self.fake.calls_to(pipe_event.NOTICE_FUNCTION), [])

    def test_a_change_notice_error_is_exit_status_1(self):
        table, _, _ = self.a_change_among_other_writes()
        error = {"errorType": "change_notice::SendFailed", "errorMessage": "SES refused the message"}
        for answer in (lambda event: (500, error, {}),
                       lambda event: (200, error, {}),
                       lambda event: (200, error, {"X-Amz-Function-Error": "Unhandled"})):
            with self.subTest(answer=answer):
                self.fake.answers[pipe_event.NOTICE_FUNCTION] = answer
                code, out, err = self.run_cli("--table", table, "--lambda", self.fake.url, "--deliver")
                self.assertEqual(code, 1)
                self.assertEqual(len(out.splitlines()), 1, "the event is printed before its delivery")
                self.assertIn(pipe_event.NOTICE_FUNCTION, err)
                self.assertIn("SES refused the message", err)
        # Without --deliver, change-notice is not invoked.
        self.fake.calls.clear()
        self.assertEqual(self.run_cli("--table", table, "--lambda", self.fake.url)[0], 0)
        self.assertEqual(self.fake.calls_to(pipe_event.NOTICE_FUNCTION), [])

    def test_a_function_the_endpoint_does_not_serve_is_exit_status_1(self):
        table, _, _ = self.a_change_among_other_writes()
        del self.fake.answers[pipe_event.NOTICE_FUNCTION]
        code, out, err = self.run_cli("--table", table, "--lambda", self.fake.url, "--deliver")
        self.assertEqual(code, 1)
        self.assertIn("HTTP 404", err)

    def test_an_endpoint_that_does_not_answer_is_exit_status_2(self):
        table, _, _ = self.a_change_among_other_writes()
        code, out, err = self.run_cli("--table", table, "--lambda", f"http://127.0.0.1:{closed_port()}")
        self.assertEqual((code, out), (2, ""))
        self.assertIn("did not answer", err)

    def test_a_table_without_a_stream_is_exit_status_2(self):
        table = self.create_table(stream=False)
        code, out, err = self.run_cli("--table", table)
        self.assertEqual((code, out), (2, ""))
        self.assertIn("no stream", err)

    def test_deliver_needs_lambda(self):
        err = io.StringIO()
        with contextlib.redirect_stderr(err), self.assertRaises(SystemExit) as exit_:
            self.run_cli("--table", TABLE, "--deliver")
        self.assertEqual(exit_.exception.code, 2)
        self.assertIn("--deliver needs --lambda", err.getvalue())

    def test_help_documents_the_output(self):
        out = io.StringIO()
        with contextlib.redirect_stdout(out), self.assertRaises(SystemExit) as exit_:
            pipe_event.main(["--help"])
        self.assertEqual(exit_.exception.code, 0)
        for words in ("--endpoint", "--table", "--lambda URL", "--deliver", "sorted keys",
                      '"detail-type":"Password Changed"', "/2015-03-31/functions/security-event/invocations",
                      "/2015-03-31/functions/change-notice/invocations", '"version":"0"', "exit status",
                      "TRIM_HORIZON", "BatchSize"):
            self.assertIn(words, out.getvalue())


if __name__ == "__main__":
    unittest.main()
