"""The rulebook: what each fact that reaches the engine does, decided in one pure place.

A fact (an SMTP attempt's result, a DSN, an auto-reply, a human reply, an opt-out or a complaint by
any path, a CRM outcome, a scoring rule's action, an operator command) goes in; :func:`decide`
returns the :class:`~outbound.rulebook.effects.Effects` with their reasons. The store applies them
in one transaction (``outbound.store.effects``). Nothing here does I/O or imports above ``core``.
"""
