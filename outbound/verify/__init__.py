"""Address verification before the first send: syntax, the domain's mail hosts, disposable, role and
free-mail addresses, and an optional catch-all probe. Pure classification apart from the DNS and
SMTP I/O in ``domains`` and ``probe``; ``run`` puts them together for a list of addresses."""
