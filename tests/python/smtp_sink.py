"""A real SMTP server for the alert tests (aiosmtpd) on a free loopback port.

It offers STARTTLS with the certificate and key given and refuses mail before it (so a client
that skips TLS fails), prints `listening on 127.0.0.1:PORT`, then one JSON line per message
received: the envelope, the headers the tests check, the plain-text body and whether the session
was encrypted. It stops when its standard input closes.
"""

import argparse
import asyncio
import email
import email.policy
import json
import ssl
import sys

from aiosmtpd.smtp import SMTP


class Sink:
    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "from": str(message["From"]),
            "to": str(message["To"]),
            "subject": str(message["Subject"]),
            "content_type": message.get_content_type(),
            "body": body.get_content() if body is not None else "",
            "tls": session.ssl is not None,
        }
        print(json.dumps(record), flush=True)
        return "250 OK"


async def serve(context):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(Sink(), tls_context=context, require_starttls=True),
        host="127.0.0.1",
        port=0,
    )
    port = server.sockets[0].getsockname()[1]
    print(f"listening on 127.0.0.1:{port}", flush=True)
    # Until the test closes standard input.
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    args = parser.parse_args()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.cert, args.key)
    asyncio.run(serve(context))


if __name__ == "__main__":
    main()
