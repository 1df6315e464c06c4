"""scripts/pipe_event.py: template.yaml's security-event pipe (filter and input template)
applied to DynamoDB stream records, and its command line against a moto server.

Run: .venv/bin/python -m unittest tests/pipe_event_test.py -v
(stdlib unittest; PyYAML, boto3 and moto from the project's .venv.)
"""

import contextlib
import io
import json
import logging
import os
import pathlib
import sys
import unittest

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import pipe_event  # noqa: E402

TABLE = "users-pipe-test"
STREAM_ARN = f"arn:aws:dynamodb:eu-west-1:123456789012:table/{TABLE}/stream/2026-01-01T00:00:00.000"
USER = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
HASH = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA"
OLD_HASH = "$argon2id$v=19$m=19456,t=2,p=1$b2xkc2FsdG9sZHNhbHQ$b2xkaGFzaG9sZGhhc2hvbGRoYXNob2xkaA"
# The item attributes that must never reach an event.
SECRET_ATTRIBUTES = ("PasswordHash", "PasswordHistory", "PreviousPasswordHash")


def last_change(request_id="c0ffee00-0000-4000-8000-000000000001", source_ip="203.0.113.7",
                user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0", at="1764288000"):
    return {"M": {"RequestId": {"S": request_id}, "SourceIp": {"S": source_ip},
                  "UserAgent": {"S": user_agent}, "At": {"N": at}}}


def item(version=None, marker=False, change=None, failed=None, history=True):
    """A users-table item in attribute-value JSON, as a stream image holds it."""
    out = {"UserId": {"S": USER}, "PasswordHash": {"S": HASH}, "Email": {"S": "alice@example.com"}}
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
    """A stream record exactly as the pipe receives it (DynamoDB Streams' Record, plus the
    stream's ARN)."""
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


def expected_detail(request_id="c0ffee00-0000-4000-8000-000000000001", source_ip="203.0.113.7",
                    user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"):
    return {
        "credential_type": "password", "change_type": "update", "initiating_entity": "user",
        "event_timestamp": "1764288000",
        "subject": {"format": "opaque", "id": USER}, "sub": USER,
        "request_id": request_id, "source_ip": source_ip, "user_agent": user_agent,
        "password_version": "3",
    }


class PipeFromTemplateTest(unittest.TestCase):
    """The pipe of template.yaml applied to the records of a change and of the other writes."""

    @classmethod
    def setUpClass(cls):
        cls.pipe = pipe_event.load_pipe()

    def test_the_change_write_gives_the_password_changed_event(self):
        event = self.pipe.apply(change_record())
        self.assertEqual(event, {"source": "change-password", "detail-type": "Password Changed",
                                 "detail": expected_detail()})

    def test_an_insert_with_the_marker_is_an_event_too(self):
        # The filter takes INSERT and MODIFY; only the change's write sets the marker.
        event = self.pipe.apply(record("INSERT", new=item(version=3, marker=True)))
        self.assertEqual(event["detail"], expected_detail())

    def test_a_counter_write_gives_nothing(self):
        # Attempt counting removes the marker: its new image has none, whatever the old one had.
        after_change = record("MODIFY", new=item(version=3, failed=1), old=item(version=3, marker=True))
        self.assertIsNone(self.pipe.apply(after_change))
        before_any_change = record("MODIFY", new=item(failed=2), old=item(failed=1))
        self.assertIsNone(self.pipe.apply(before_any_change))

    def test_an_insert_without_the_marker_gives_nothing(self):
        # Provisioning (seed-user's PutItem) of a new account.
        self.assertIsNone(self.pipe.apply(record("INSERT", new=item())))
        # ... and of an account that had changed its password elsewhere.
        self.assertIsNone(self.pipe.apply(record("INSERT", new=item(version=3))))

    def test_a_remove_gives_nothing(self):
        # Even right after a change: a REMOVE has no new image.
        self.assertIsNone(self.pipe.apply(record("REMOVE", old=item(version=3, marker=True))))

    def test_other_event_names_give_nothing(self):
        self.assertIsNone(self.pipe.apply(dict(change_record(), eventName="UPDATE")))

    def test_the_user_agent_is_carried_through(self):
        for user_agent in ("curl/8.5.0", "okhttp/4.12.0",
                           "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
                           "a{b}c[d]e<f>g'h;i=j&k?l#m%n|o~p`q*r+s,t:u@v!w$x^y",
                           "x" * 256, ""):
            with self.subTest(user_agent=user_agent):
                detail = self.pipe.apply(change_record(user_agent=user_agent))["detail"]
                self.assertEqual(detail["user_agent"], user_agent)
                self.assertEqual(detail, expected_detail(user_agent=user_agent))

    def test_unknown_request_details_are_empty_strings(self):
        detail = self.pipe.apply(change_record(source_ip="", user_agent="", request_id=""))["detail"]
        self.assertEqual((detail["source_ip"], detail["user_agent"], detail["request_id"]), ("", "", ""))

    def test_a_quote_in_a_stored_value_would_break_the_event(self):
        # A pipe does not escape what it inserts: this is why the function keeps `"` and `\`
        # out of the user agent it stores. Unsanitised, a user agent could even override a field.
        injected = 'evil", "sub": "someone-else'
        text = pipe_event.render(self.pipe.input_template, change_record(user_agent=injected), strict=False)
        self.assertEqual(json.loads(text)["sub"], "someone-else")
        # The tool refuses such a record instead.
        for user_agent in (injected, 'say "hi"', "back\\slash", "x\\"):
            with self.subTest(user_agent=user_agent), self.assertRaisesRegex(pipe_event.PipeError, "UserAgent"):
                self.pipe.apply(change_record(user_agent=user_agent))

    def test_a_change_without_last_password_change_is_an_error_not_an_event(self):
        broken = change_record()
        del broken["dynamodb"]["NewImage"]["LastPasswordChange"]["M"]["UserAgent"]
        with self.assertRaisesRegex(pipe_event.PipeError, "LastPasswordChange.M.UserAgent"):
            self.pipe.apply(broken)

    def test_no_hash_history_or_secret_can_reach_the_event(self):
        paths = pipe_event.placeholders(self.pipe.input_template)
        self.assertTrue(paths)
        for path in paths:
            for name in SECRET_ATTRIBUTES:
                self.assertNotIn(name, path)
        # Only the key, the version and LastPasswordChange are read.
        allowed = {"$.dynamodb.Keys.UserId.S", "$.dynamodb.NewImage.PasswordVersion.N"}
        for path in paths:
            self.assertTrue(path in allowed or path.startswith("$.dynamodb.NewImage.LastPasswordChange.M."), path)
        for name in SECRET_ATTRIBUTES:
            self.assertNotIn(name, self.pipe.input_template)
        # The event of a record full of secrets holds none of them.
        text = json.dumps(self.pipe.apply(change_record()))
        for secret in (HASH, OLD_HASH, *SECRET_ATTRIBUTES, "jti-1", "sid-1"):
            self.assertNotIn(secret, text)

    def test_the_event_has_exactly_the_documented_fields(self):
        detail = self.pipe.apply(change_record())["detail"]
        self.assertEqual(sorted(detail), sorted(expected_detail()))
        for key, value in detail.items():
            if key != "subject":
                self.assertIsInstance(value, str, key)

    def test_loader_reads_the_cloudformation_tags(self):
        template = pipe_event.load_template()
        pipe = template["Resources"]["SecurityEventPipe"]["Properties"]
        self.assertEqual(pipe["RoleArn"], {"Fn::GetAtt": ["SecurityEventPipeRole", "Arn"]})
        self.assertEqual(set(pipe["Target"]), {"Fn::If"})


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


class RenderTest(unittest.TestCase):
    """Input-template rendering as EventBridge Pipes documents it."""

    EVENT = {"s": "text", "n": 5, "t": True, "z": None, "o": {"k": "v"}, "l": [1, "two"],
             "deep": {"list": [{"x": "y"}]}}

    def render(self, template):
        return pipe_event.render(template, self.EVENT)

    def test_strings_get_their_quotes_once(self):
        self.assertEqual(json.loads(self.render('{"a": <$.s>}')), {"a": "text"})
        self.assertEqual(json.loads(self.render('{"a": "<$.s>"}')), {"a": "text"})
        self.assertEqual(json.loads(self.render('{"a": "is <$.s>!"}')), {"a": "is text!"})

    def test_numbers_booleans_null_objects_and_arrays(self):
        self.assertEqual(json.loads(self.render('{"n": <$.n>, "t": <$.t>, "z": <$.z>, "o": <$.o>, "l": <$.l>}')),
                         {"n": 5, "t": True, "z": None, "o": {"k": "v"}, "l": [1, "two"]})
        self.assertEqual(json.loads(self.render('{"n": "<$.n>"}')), {"n": "5"})
        # An object inside a string loses its quotes.
        self.assertEqual(json.loads(self.render('{"o": "o=<$.o>"}')), {"o": "o={k:v}"})

    def test_array_indices(self):
        self.assertEqual(json.loads(self.render('{"x": <$.deep.list[0].x>}')), {"x": "y"})

    def test_missing_paths_and_reserved_variables_are_errors(self):
        for template in ('{"a": <$.nope>}', '{"a": <$.l[5]>}', '{"a": <$.s.deeper>}',
                         '{"a": <aws.pipes.pipe-arn>}'):
            with self.subTest(template=template), self.assertRaises(pipe_event.PipeError):
                self.render(template)

    def test_values_are_not_escaped(self):
        self.assertEqual(pipe_event.render('{"a": "<$.s>"}', {"s": 'x"y'}, strict=False), '{"a": "x"y"}')
        with self.assertRaises(pipe_event.PipeError):
            pipe_event.render('{"a": "<$.s>"}', {"s": 'x"y'})

    def test_duplicate_keys_are_refused(self):
        pipe = pipe_event.Pipe(patterns=[{}], input_template='{"a": <$.s>, "a": "b"}', source="s", detail_type="d")
        with self.assertRaisesRegex(pipe_event.PipeError, "twice"):
            pipe.apply({"s": "x"})


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


class CommandLineTest(unittest.TestCase):
    """The command line against a moto server: a change among the other writes of an item."""

    @classmethod
    def setUpClass(cls):
        cls.env = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
        os.environ["AWS_ACCESS_KEY_ID"] = "testing"
        os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
        cls.server = moto_server()
        cls.endpoint = cls.server.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__(None, None, None)
        for k, v in cls.env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    def client(self):
        import boto3
        return boto3.client("dynamodb", endpoint_url=self.endpoint, region_name="eu-west-1")

    def run_cli(self, *args):
        out, err = io.StringIO(), io.StringIO()
        code = pipe_event.main(["--endpoint", self.endpoint, "--region", "eu-west-1", *args],
                               stdout=out, stderr=err)
        return code, out.getvalue(), err.getvalue()

    def create_table(self, name, stream=True):
        spec = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"} if stream else {"StreamEnabled": False}
        self.client().create_table(
            TableName=name, BillingMode="PAY_PER_REQUEST", StreamSpecification=spec,
            KeySchema=[{"AttributeName": "UserId", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "UserId", "AttributeType": "S"}])

    def test_prints_one_line_for_the_change_and_nothing_for_the_other_writes(self):
        db, key = self.client(), {"UserId": {"S": USER}}
        self.create_table(TABLE)
        # Provisioning, a wrong current password, the attempt of the change, the change, then a
        # later attempt that removes the marker, and the account's deletion.
        db.put_item(TableName=TABLE, Item=item(history=False))
        db.update_item(TableName=TABLE, Key=key, UpdateExpression="SET FailedPasswordAttempts = :one REMOVE PasswordChangeEvent",
                       ExpressionAttributeValues={":one": {"N": "1"}})
        db.update_item(TableName=TABLE, Key=key, UpdateExpression="SET FailedPasswordAttempts = :zero REMOVE PasswordChangeEvent",
                       ExpressionAttributeValues={":zero": {"N": "0"}})
        change = item(version=3, marker=True)
        db.update_item(
            TableName=TABLE, Key=key,
            UpdateExpression="SET PasswordHash = :h, PasswordVersion = :v, TokensValidAfter = :t, "
                             "PasswordChangeSession = :s, LastPasswordChange = :l, PasswordChangeEvent = :v",
            ExpressionAttributeValues={":h": {"S": HASH}, ":v": {"N": "3"}, ":t": change["TokensValidAfter"],
                                       ":s": change["PasswordChangeSession"], ":l": change["LastPasswordChange"]})
        db.update_item(TableName=TABLE, Key=key, UpdateExpression="SET FailedPasswordAttempts = :one REMOVE PasswordChangeEvent",
                       ExpressionAttributeValues={":one": {"N": "1"}})
        db.delete_item(TableName=TABLE, Key=key)

        code, out, err = self.run_cli("--table", TABLE)
        self.assertEqual((code, err), (0, ""))
        expected = {"source": "change-password", "detail-type": "Password Changed", "detail": expected_detail()}
        self.assertEqual(out, json.dumps(expected, sort_keys=True, separators=(",", ":")) + "\n")

    def test_a_table_without_a_stream_is_exit_status_2(self):
        self.create_table("users-no-stream", stream=False)
        code, out, err = self.run_cli("--table", "users-no-stream")
        self.assertEqual((code, out), (2, ""))
        self.assertIn("no stream", err)

    def test_a_change_the_template_cannot_render_is_exit_status_1(self):
        db, name = self.client(), "users-broken-change"
        self.create_table(name)
        broken = item(version=3, marker=True, history=False)
        del broken["LastPasswordChange"]["M"]["SourceIp"]
        db.put_item(TableName=name, Item=broken)
        code, out, err = self.run_cli("--table", name)
        self.assertEqual((code, out), (1, ""))
        self.assertIn("LastPasswordChange.M.SourceIp", err)

    def test_help_documents_the_output(self):
        out = io.StringIO()
        with contextlib.redirect_stdout(out), self.assertRaises(SystemExit) as exit_:
            pipe_event.main(["--help"])
        self.assertEqual(exit_.exception.code, 0)
        for words in ("--endpoint", "--table", "sorted keys", '"detail-type":"Password Changed"',
                      "exit status", "TRIM_HORIZON"):
            self.assertIn(words, out.getvalue())


if __name__ == "__main__":
    unittest.main()
