"""A stand-in for a Confluent Schema Registry, for tests only.

No Schema Registry can run on the test machines (it needs a JVM; karapace is not
on the package registries), so this implements the documented REST endpoints the
tests and confluent-kafka's Avro, Protobuf and JSON serializers use, and nothing else:

  POST /subjects/{subject}/versions   {"schema", "schemaType", "references"} -> {"id": N}
                                      ("id": N in the body registers under that id, as
                                      the registry does in IMPORT mode)
  POST /subjects/{subject}            the same body -> {"subject", "id", "version", ...}
                                      (is this schema registered under the subject?)
  GET  /schemas/ids/{id}              -> {"schema", "schemaType" (when not AVRO),
                                      "references" (when any)}, or 404
  GET  /subjects/{subject}/versions/{version}  -> {"subject", "version", "id", "schema", ...}
  GET  /subjects                      -> the subjects registered

The same schema (text, type and references) gets the same id under any subject, as
in the registry. A subject's versions count from 1.

Protobuf: a real registry parses what it is given (.proto text or a base64
FileDescriptorProto) and answers `.proto` text by default, the base64
FileDescriptorProto with `?format=serialized`. confluent-kafka registers the base64
form, and this stand-in keeps what it was given and answers it for either format:
analyzer asks for `?format=serialized` only, and tests register the base64 form
only. It cannot make `.proto` text (no protobuf parser here).
With --user and --password every request needs that basic auth (401 otherwise).
Usage: python3 registry_standin.py --port 8081 [--user U --password P]
"""
import argparse
import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class Registry:
    def __init__(self):
        self.lock = threading.Lock()
        self.ids = {}  # (schemaType, schema, references) -> id
        self.schemas = {}  # id -> (schemaType, schema, references)
        self.subjects = {}  # subject -> [id, ...] (version N is the Nth)

    @staticmethod
    def key(schema_type, schema, references):
        refs = tuple((r.get("name"), r.get("subject"), r.get("version")) for r in references or [])
        return (schema_type, schema, refs)

    def register(self, subject, schema_type, schema, references, wanted_id=None):
        with self.lock:
            key = self.key(schema_type, schema, references)
            if key not in self.ids:
                new_id = wanted_id or max(self.schemas, default=0) + 1
                self.ids[key] = new_id
                self.schemas[new_id] = key
            schema_id = self.ids[key]
            versions = self.subjects.setdefault(subject, [])
            if schema_id not in versions:
                versions.append(schema_id)
            return schema_id

    def body(self, schema_id):
        schema_type, schema, refs = self.schemas[schema_id]
        body = {"id": schema_id, "schema": schema}
        if schema_type != "AVRO":
            body["schemaType"] = schema_type
        if refs:
            body["references"] = [{"name": n, "subject": s, "version": v} for n, s, v in refs]
        return body

    def lookup(self, subject, schema_type, schema, references):
        """The subject's version holding this schema: its body, or None."""
        with self.lock:
            schema_id = self.ids.get(self.key(schema_type, schema, references))
            versions = self.subjects.get(subject, [])
            if schema_id is None or schema_id not in versions:
                return None
            return dict(self.body(schema_id), subject=subject, version=versions.index(schema_id) + 1)

    def version(self, subject, version):
        with self.lock:
            versions = self.subjects.get(subject, [])
            if version == "latest" and versions:
                version = len(versions)
            if not str(version).isdigit() or not 1 <= int(version) <= len(versions):
                return None
            schema_id = versions[int(version) - 1]
            return dict(self.body(schema_id), subject=subject, version=int(version))


def handler(registry, credentials):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def answer(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def authorized(self):
            if credentials is None:
                return True
            expected = "Basic " + base64.b64encode(credentials.encode()).decode()
            if self.headers.get("Authorization") == expected:
                return True
            self.answer(401, {"error_code": 401, "message": "Unauthorized"})
            return False

        def do_GET(self):
            if not self.authorized():
                return
            parts = [unquote(p) for p in urlparse(self.path).path.strip("/").split("/")]
            if len(parts) == 3 and parts[:2] == ["schemas", "ids"] and parts[2].isdigit():
                if int(parts[2]) not in registry.schemas:
                    self.answer(404, {"error_code": 40403, "message": f"Schema {parts[2]} not found"})
                    return
                body = registry.body(int(parts[2]))
                del body["id"]
                self.answer(200, body)
            elif len(parts) == 4 and parts[0] == "subjects" and parts[2] == "versions":
                found = registry.version(parts[1], parts[3])
                if found is None:
                    self.answer(404, {"error_code": 40402, "message": "Version not found"})
                    return
                self.answer(200, found)
            elif parts == ["subjects"]:
                self.answer(200, sorted(registry.subjects))
            else:
                self.answer(404, {"error_code": 404, "message": "Not found (a test stand-in)"})

        def do_POST(self):
            if not self.authorized():
                return
            parts = [unquote(p) for p in urlparse(self.path).path.strip("/").split("/")]
            registering = len(parts) == 3 and parts[0] == "subjects" and parts[2] == "versions"
            looking_up = len(parts) == 2 and parts[0] == "subjects"
            if not registering and not looking_up:
                self.answer(404, {"error_code": 404, "message": "Not found (a test stand-in)"})
                return
            length = int(self.headers.get("Content-Length", "0"))
            try:
                request = json.loads(self.rfile.read(length))
                schema = request["schema"]
                schema_type = request.get("schemaType") or "AVRO"
                references = request.get("references") or []
            except (ValueError, KeyError, TypeError, AttributeError):
                self.answer(422, {"error_code": 42201, "message": "Invalid schema"})
                return
            if looking_up:
                found = registry.lookup(parts[1], schema_type, schema, references)
                if found is None:
                    self.answer(404, {"error_code": 40403, "message": "Schema not found"})
                else:
                    self.answer(200, found)
                return
            schema_id = registry.register(parts[1], schema_type, schema, references, request.get("id"))
            self.answer(200, {"id": schema_id})

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user")
    parser.add_argument("--password")
    args = parser.parse_args()
    credentials = f"{args.user}:{args.password}" if args.user else None
    server = ThreadingHTTPServer((args.host, args.port), handler(Registry(), credentials))
    print(f"registry stand-in on http://{args.host}:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
