"""Prints, as JSON, the log records a collector stored in its SQLite file (argv[1]) for one
browser session (argv[2], the `session.id` attribute), oldest first. Used by support.mjs."""

import json
import sqlite3
import sys

con = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=10)
con.row_factory = sqlite3.Row
rows = con.execute(
    """SELECT timestamp_ns, severity_number, severity_text, body, trace_id, span_id, event_name,
              log_attributes
         FROM logs
        WHERE json_extract(log_attributes, '$."session.id"') = ?
        ORDER BY timestamp_ns""",
    (sys.argv[2],),
).fetchall()
print(json.dumps([dict(r, log_attributes=json.loads(r["log_attributes"])) for r in rows]))
