"""Free-mail and ISP mailbox domains: an address there says nothing about the person's company."""

from __future__ import annotations

_DOMAINS = """
gmail.com googlemail.com outlook.com outlook.fr outlook.de outlook.es outlook.it outlook.co.uk
hotmail.com hotmail.co.uk hotmail.fr hotmail.de hotmail.it hotmail.es hotmail.nl hotmail.be live.com
live.co.uk live.fr live.de live.it live.nl live.ca live.com.au msn.com passport.com yahoo.com
yahoo.co.uk yahoo.fr yahoo.de yahoo.it yahoo.es yahoo.ca yahoo.in yahoo.co.in yahoo.co.jp
yahoo.com.br yahoo.com.au yahoo.com.mx yahoo.com.ar ymail.com rocketmail.com aol.com aim.com
icloud.com me.com mac.com proton.me protonmail.com protonmail.ch pm.me tutanota.com tutanota.de
tuta.io tuta.com hey.com fastmail.com fastmail.fm zoho.com zohomail.com hushmail.com mail.com
email.com usa.com gmx.com gmx.de gmx.net gmx.at gmx.ch gmx.fr web.de t-online.de freenet.de
posteo.de mailbox.org arcor.de orange.fr wanadoo.fr free.fr laposte.net sfr.fr neuf.fr bbox.fr
libero.it virgilio.it tiscali.it alice.it tin.it seznam.cz centrum.cz wp.pl o2.pl interia.pl onet.pl
yandex.ru yandex.com yandex.ua ya.ru mail.ru bk.ru inbox.ru list.ru rambler.ru ukr.net qq.com
163.com 126.com yeah.net sina.com sina.cn sohu.com aliyun.com foxmail.com naver.com hanmail.net
daum.net nate.com rediffmail.com comcast.net verizon.net att.net sbcglobal.net bellsouth.net cox.net
charter.net earthlink.net optonline.net frontier.com windstream.net btinternet.com sky.com
virginmedia.com ntlworld.com talktalk.net blueyonder.co.uk shaw.ca rogers.com sympatico.ca telus.net
bigpond.com bigpond.net.au optusnet.com.au xtra.co.nz telenet.be skynet.be ziggo.nl kpnmail.nl
planet.nl home.nl bluewin.ch sunrise.ch mailinator.com guerrillamail.com yopmail.com
10minutemail.com temp-mail.org sharklasers.com
"""
FREE_MAIL_DOMAINS: frozenset[str] = frozenset(_DOMAINS.split())

# Big providers run the same service under many country domains (yahoo.com.tw, hotmail.com.ar, ...).
_PROVIDER_LABELS = frozenset({"gmail", "googlemail", "yahoo", "hotmail", "outlook", "live", "aol", "gmx", "yandex"})
_SECOND_LEVELS = frozenset({"co", "com", "net", "org", "ne", "or"})


def is_free_mail(domain: str) -> bool:
    """True for a consumer mailbox provider (``gmail.com``, ``yahoo.co.uk``, ``hotmail.com.ar``...)."""
    domain = domain.lower().rstrip(".")
    if domain in FREE_MAIL_DOMAINS:
        return True
    labels = domain.split(".")
    # provider.cc or provider.co.cc with a two-letter country code.
    if labels[0] in _PROVIDER_LABELS and len(labels[-1]) == 2:
        return len(labels) == 2 or (len(labels) == 3 and labels[1] in _SECOND_LEVELS)
    return False
