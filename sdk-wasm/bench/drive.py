"""Drives headless Chromium through chromedriver's WebDriver HTTP API (no extra packages):
opens the benchmark page and prints its result as JSON."""

import json
import sys
import time
import urllib.request


def call(base, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=300) as r:
        return json.loads(r.read())["value"]


def main(driver, page):
    caps = {
        "capabilities": {
            "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "args": ["--headless=new", "--no-sandbox", "--disable-background-networking", "--disable-dev-shm-usage", "--disable-gpu", "--js-flags=--no-liftoff"]
                },
            }
        }
    }
    session = call(driver, "POST", "/session", caps)["sessionId"]
    try:
        call(driver, "POST", "/session/%s/url" % session, {"url": page})
        deadline = time.time() + 600
        while time.time() < deadline:
            result = call(driver, "POST", "/session/%s/execute/sync" % session, {"script": "return window.__benchResult || null", "args": []})
            if result is not None:
                print(json.dumps(result, indent=2))
                return 1 if "error" in result else 0
            time.sleep(0.5)
        print("benchmark timed out", file=sys.stderr)
        return 1
    finally:
        call(driver, "DELETE", "/session/%s" % session)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
