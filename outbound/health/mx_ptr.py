"""MX records of the domain and forward-confirmed reverse DNS of its sending IPs."""

from __future__ import annotations

import asyncio
import ipaddress

from outbound.health.dns import Lookup, reverse_name
from outbound.health.model import Finding


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
        return True
    except ValueError:
        return False


async def check_mx(lookup: Lookup, domain: str, send_only: bool) -> list[Finding]:
    ans = await lookup.query(domain, "MX")
    if ans.failed:
        return [Finding("mx", "warning", "dns_error", f"MX lookup for {domain}: {ans.detail} (unknown)", "check the domain's name servers")]
    if not ans.ok:
        if send_only:
            return [Finding("mx", "info", "missing", f"{domain} has no MX (fine: the domain is send-only)")]
        fix = f"publish an MX record at {domain} pointing at the host that receives its mail (e.g. 10 mx.{domain}.)"
        implicit, _ = await lookup.addresses(domain)
        if implicit:  # the A record is the implicit MX (RFC 5321 §5.1): receivers accept the mail
            return [Finding("mx", "warning", "missing", f"{domain} has no MX record: replies and bounces go to its "
                            f"A record ({', '.join(implicit)}), which may not accept mail", fix)]
        # neither MX nor A: receivers refuse the sender domain (Postfix reject_unknown_sender_domain and alike)
        return [Finding("mx", "error", "missing", f"{domain} has no MX and no A record: receivers refuse mail from it, "
                        "and replies and bounces cannot reach it", fix)]
    hosts = [str(r.exchange).rstrip(".").lower() for r in ans.rdata]
    if hosts == [""]:
        if send_only:
            return [Finding("mx", "info", "null_mx", f"{domain} publishes a null MX (send-only domain)")]
        return [Finding("mx", "error", "null_mx", f"{domain} publishes a null MX: it accepts no mail, yet it sends "
                        "(receivers may refuse it, RFC 7505)",
                        f"publish a real MX at {domain}, or set send_only: true in domains/{domain}.yaml")]
    out: list[Finding] = []
    real = [h for h in hosts if h]
    cnames = await asyncio.gather(*(lookup.query(h, "CNAME") for h in real))
    addrs = await asyncio.gather(*(lookup.addresses(h) for h in real))
    for host, cname, (ips, failure) in zip(real, cnames, addrs, strict=True):
        if _is_ip(host):
            # a malformed MX: receivers that check the sender domain refuse it
            out.append(Finding("mx", "error", "ip", f"MX {host} is an IP address, not a host name",
                               f"point the MX of {domain} at a host name whose A record is {host}"))
        elif cname.ok:
            # forbidden, yet every common MTA follows it: replies still arrive
            target = next(iter(cname.names()), "")
            out.append(Finding("mx", "warning", "cname", f"MX host {host} is a CNAME (RFC 5321 §5.1 forbids it)",
                               f"point the MX of {domain} at the canonical host name{' ' + target if target else ''}"))
        elif not ips:
            if failure is not None:
                out.append(Finding("mx", "warning", "dns_error", f"MX host {host}: {failure.detail} (unknown)", "check the host's name servers"))
            else:
                # our mail still goes out and is accepted; what is lost is the replies and bounces
                out.append(Finding("mx", "warning", "host_unresolved",
                                   f"MX host {host} has no A/AAAA record: replies and bounces to {domain} cannot arrive",
                                   f"publish an A record for {host}"))
    if not out:
        out.append(Finding("mx", "info", "ok", f"MX: {', '.join(real)}"))
    return out


async def check_ptr(lookup: Lookup, ips: list[str]) -> list[Finding]:
    async def one(ip: str) -> Finding:
        ans = await lookup.query(reverse_name(ip), "PTR")
        if ans.failed:
            return Finding("ptr", "warning", "dns_error", f"PTR lookup for {ip}: {ans.detail} (unknown)", "retry later")
        names = [n for n in ans.names() if n]
        if not names:
            return Finding("ptr", "error", "missing", f"{ip} has no PTR record", "ask the IP's owner (hosting provider) to set reverse DNS to your mail host name")
        for name in names:
            addrs, _ = await lookup.addresses(name)
            if any(ipaddress.ip_address(a) == ipaddress.ip_address(ip) for a in addrs):
                return Finding("ptr", "info", "ok", f"{ip} -> {name} -> {ip} (forward-confirmed)")
        return Finding("ptr", "error", "not_confirmed", f"{ip} -> {', '.join(names)}, which does not resolve back to {ip}",
                       f"publish an A/AAAA record for {names[0]} pointing at {ip}")

    return list(await asyncio.gather(*(one(ip) for ip in ips)))
