#!/usr/bin/python3
"""mailfleet: DANE before MTA-STS in Postfix's TLS policy lookups (RFC 8461 section 2).

A socketmap(5) server on loopback that Postfix asks before mta-sts-daemon (smtp_tls_policy_maps,
first match wins). For a next-hop domain whose MX hosts publish DNSSEC-validated TLSA records it
answers "dane-only" (every MX has them) or "dane" (some do), so the STS answer ("secure match=...")
never replaces a DANE check; a domain whose MX set is unsigned, or whose MX hosts securely have no
TLSA record, is NOTFOUND and the next table (MTA-STS) decides. A lookup that fails (a bogus or
unanswered zone) answers "dane": Postfix then does its own DANE lookups, which defer on the same
failure, rather than let STS send past a DANE check that could not be made.

Asks the host's own validating unbound (127.0.0.1) and trusts only its AD bit.
Usage: dane-first.py PORT
"""
import asyncio
import sys

import dns.asyncresolver
import dns.exception
import dns.flags
import dns.name
import dns.resolver

SMTP_PORT = 25
# Postfix's socketmap client limits a request to 100000 bytes; a domain name is far shorter.
MAX_REQUEST = 1024


def validating_resolver():
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    # RD and AD: the AD bit in the answer is the resolver's word that it validated.
    resolver.flags = dns.flags.RD | dns.flags.AD
    resolver.use_edns(0, dns.flags.DO, 1232)
    resolver.lifetime = 5
    return resolver


RESOLVER = validating_resolver()


class LookupFailed(Exception):
    pass


async def secure_answer(name, rdtype):
    """(validated, records) for name/rdtype; raises LookupFailed where no verdict was had."""
    try:
        answer = await RESOLVER.resolve(name, rdtype, raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN as nx:
        response = nx.response(nx.qnames()[0]) if nx.qnames() else None
        return (response is not None and bool(response.flags & dns.flags.AD)), []
    except dns.exception.DNSException as error:  # SERVFAIL (bogus), timeouts, malformed answers
        raise LookupFailed(str(error)) from error
    return bool(answer.response.flags & dns.flags.AD), list(answer.rrset or [])


def next_hop(key):
    """(domain, mx_lookup, port) for a policy lookup key: example.org, [mx.example.org]:587 ..."""
    if key.startswith("["):
        host, _, rest = key[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else SMTP_PORT
        return host, False, port
    host, _, port = key.partition(":")
    return host, True, int(port) if port.isdigit() else SMTP_PORT


async def policy(key):
    domain, mx_lookup, port = next_hop(key.strip().lower())
    # Postfix also asks for the parent domains (".example.org") and for addresses: none has TLSA.
    if not domain or domain.startswith(".") or ":" in domain or domain.replace(".", "").isdigit():
        return "NOTFOUND "
    try:
        dns.name.from_text(domain)
    except dns.exception.DNSException:
        return "NOTFOUND "
    try:
        hosts = [domain]
        if mx_lookup:
            secure, mx = await secure_answer(domain, "MX")
            if not secure:
                return "NOTFOUND "
            # A null MX (RFC 7505) receives no mail at all; no MX at all means the domain itself.
            if any(r.exchange == dns.name.root for r in mx):
                return "NOTFOUND "
            hosts = [r.exchange.to_text(omit_final_dot=True) for r in mx] or [domain]
        verdicts = await asyncio.gather(*(secure_answer(f"_{port}._tcp.{h}", "TLSA") for h in hosts))
    except LookupFailed:
        return "OK dane"
    with_tlsa = sum(1 for secure, records in verdicts if secure and records)
    if with_tlsa == 0:
        return "NOTFOUND "
    return "OK dane-only" if with_tlsa == len(hosts) else "OK dane"


def netstring(text):
    data = text.encode()
    return str(len(data)).encode() + b":" + data + b","


async def serve(reader, writer):
    """One Postfix client: netstring requests "<map name> <key>", one answer each, until it hangs up."""
    try:
        while True:
            length = await reader.readuntil(b":")
            if not length[:-1].isdigit() or int(length[:-1]) > MAX_REQUEST:
                break
            request = await reader.readexactly(int(length[:-1]) + 1)
            if request[-1:] != b",":
                break
            _, _, key = request[:-1].decode("utf-8", "replace").partition(" ")
            try:
                answer = await policy(key)
            except Exception as error:  # an unexpected failure: Postfix defers and retries
                answer = f"TEMP {type(error).__name__}"
            writer.write(netstring(answer))
            await writer.drain()
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port):
    server = await asyncio.start_server(serve, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
