"""A stand-in for a Confluent Schema Registry, for tests only.

No Schema Registry can run on the test machines (it needs a JVM; karapace is not
on the package registries), so this implements the documented REST endpoints the
tests and confluent-kafka's AvroSerializer use, and nothing else:

  POST /subjects/{subject}/versions   {"schema": "...", "schemaType": "AVRO"} -> {"id": N}
                                      ("id": N in the body registers under that id, as
                                      the registry does in IMPORT mode)
  GET  /schemas/ids/{id}              -> {"schema": "..."} (schemaType when not AVRO), or 404
  GET  /subjects                      -> the subjects registered

The same schema text gets the same id under any subject, as in the registry.
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
        self.ids = {}  # (schemaType, schema) -> id
        self.schemas = {}  # id -> (schemaType, schema)
        self.subjects = {}  # subject -> [id, ...]

    def register(self, subject, schema_type, schema, wanted_id=None):
        with self.lock:
            key = (schema_type, schema)
            if key not in self.ids:
                new_id = wanted_id or max(self.schemas, default=0) + 1
                self.ids[key] = new_id
                self.schemas[new_id] = key
            schema_id = self.ids[key]
            versions = self.subjects.setdefault(subject, [])
            if schema_id not in versions:
                versions.append(schema_id)
            return schema_id


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
                found = registry.schemas.get(int(parts[2]))
                if found is None:
                    self.answer(404, {"error_code": 40403, "message": f"Schema {parts[2]} not found"})
                    return
                schema_type, schema = found
                body = {"schema": schema}
                if schema_type != "AVRO":
                    body["schemaType"] = schema_type
                self.answer(200, body)
            elif parts == ["subjects"]:
                self.answer(200, sorted(registry.subjects))
            else:
                self.answer(404, {"error_code": 404, "message": "Not found (a test stand-in)"})

        def do_POST(self):
            if not self.authorized():
                return
            parts = [unquote(p) for p in urlparse(self.path).path.strip("/").split("/")]
            if len(parts) != 3 or parts[0] != "subjects" or parts[2] != "versions":
                self.answer(404, {"error_code": 404, "message": "Not found (a test stand-in)"})
                return
            length = int(self.headers.get("Content-Length", "0"))
            try:
                request = json.loads(self.rfile.read(length))
                schema = request["schema"]
            except (ValueError, KeyError, TypeError):
                self.answer(422, {"error_code": 42201, "message": "Invalid schema"})
                return
            schema_id = registry.register(
                parts[1], request.get("schemaType", "AVRO"), schema, request.get("id"))
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
