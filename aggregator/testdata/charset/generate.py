#!/usr/bin/env python3
"""Writes the charset fixtures: small RSS feeds whose bytes are in a legacy
encoding, made by Python's own codecs so that the Go decoders are checked
against an independent encoder. Run it from this directory."""

FR = "Élysée : « réforme » à l’été"      # windows-1252 has the ’
FR_LATIN1 = "Élysée : « réforme » à l'été"
ZH = "中国新闻：经济增长"
ZH_TW = "臺灣新聞：經濟成長"
JA = "日本のニュース：経済成長"
RU = "Новости России: экономика"
MIXED = "Café 中文 Новости"


def feed(title, item, label):
    decl = f' encoding="{label}"' if label else ""
    return (f'<?xml version="1.0"{decl}?>\n<rss version="2.0"><channel>'
            f"<title>{title}</title><link>https://example.com/</link>"
            f"<item><guid>1</guid><title>{item}</title></item>"
            "</channel></rss>\n")


FIXTURES = [
    # name, python codec, prolog label (None: declared by Content-Type only), feed title, item title
    ("iso-8859-1.xml", "latin-1", "ISO-8859-1", FR_LATIN1, "Noël"),
    ("windows-1252.xml", "cp1252", "windows-1252", FR, "“Œuvre” – 5 €"),
    ("gb2312.xml", "gb2312", "GB2312", ZH, "北京"),
    ("gbk.xml", "gbk", "GBK", ZH, "镕"),
    ("gb18030.xml", "gb18030", "GB18030", ZH, "𠀀"),
    ("big5.xml", "big5", "Big5", ZH_TW, "臺北"),
    ("shift_jis.xml", "shift_jis", "Shift_JIS", JA, "東京"),
    ("euc-jp.xml", "euc_jp", "EUC-JP", JA, "大阪"),
    ("koi8-r.xml", "koi8_r", "KOI8-R", RU, "Москва"),
    ("utf-16le-bom.xml", "utf-16-le", "UTF-16", MIXED, "Ωmega"),
    ("utf-16be-bom.xml", "utf-16-be", "UTF-16", MIXED, "Ωmega"),
    ("utf-16le-nobom.xml", "utf-16-le", "UTF-16", MIXED, "Ωmega"),
    ("header-only-koi8-r.xml", "koi8_r", None, RU, "Москва"),
    ("header-only-shift_jis.xml", "shift_jis", None, JA, "東京"),
    # Valid UTF-8 whose prolog says ISO-8859-1: the bytes win.
    ("utf8-declared-latin1.xml", "utf-8", "ISO-8859-1", FR, "Noël"),
    # KOI8-R bytes, prolog KOI8-R; the test's header says ISO-8859-1.
    ("prolog-vs-header.xml", "koi8_r", "KOI8-R", RU, "Москва"),
    # Latin-1 bytes declared (wrongly) as UTF-8: repaired with U+FFFD.
    ("latin1-declared-utf8.xml", "latin-1", "UTF-8", FR_LATIN1, "Noël"),
]

for name, codec, label, title, item in FIXTURES:
    data = feed(title, item, label).encode(codec)
    if name.endswith("-bom.xml"):
        data = "\ufeff".encode(codec) + data
    with open(name, "wb") as f:
        f.write(data)
