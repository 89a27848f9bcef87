"""A stored file's name says what its bytes are: the extension is the sniffed
type's, so no browser, mail client or desktop opens a file as something else.
``report.html`` that is text becomes ``report.txt``, ``run.bat`` ``run.txt``,
``a.jar`` (a ZIP) ``a.zip``, ``photo.jpg.html`` (a JPEG) ``photo.jpg``: an
extension that would run or render (markup, scripts, programs) is dropped, and
one that does not fit the type gets the type's own after it. The header a
download carries (RFC 6266: an ASCII ``filename`` and a UTF-8 ``filename*``) is
made here too."""

from __future__ import annotations

import mimetypes
import re
import unicodedata
from urllib.parse import quote

# what a browser renders or a desktop runs by its name: never kept at a name's end
DANGEROUS = frozenset({
    "html", "htm", "xhtml", "shtml", "mht", "mhtml", "svg", "svgz", "xml", "xsl", "xslt",
    "js", "mjs", "jse", "vbs", "vbe", "vb", "wsf", "wsh", "ws", "hta", "scf", "lnk", "url", "desktop",
    "bat", "cmd", "com", "exe", "scr", "pif", "cpl", "msi", "msp", "mst", "dll", "sys", "ocx",
    "jar", "jnlp", "class", "ps1", "ps2", "psm1", "psd1", "sh", "bash", "zsh", "csh", "ksh", "command",
    "py", "pyw", "pl", "rb", "php", "phtml", "asp", "aspx", "jsp", "reg", "inf", "chm", "hlp",
    "app", "dmg", "pkg", "apk", "deb", "rpm", "appimage", "swf", "application", "gadget", "appref-ms",
    "iso", "img", "vhd", "vhdx", "xbap", "msc", "workflow",
})
# a type's own extension where the system's table has none or a poor first choice
_OWN = {"text/plain": "txt", "audio/ogg": "ogg", "application/octet-stream": "bin",
        "application/x-empty": "bin"}
# other harmless names plain text goes by
_TEXT_ALSO = frozenset({"csv", "tsv", "md", "log", "json", "text", "srt"})
_UNSAFE_ASCII = re.compile(r'[^A-Za-z0-9 ._()\[\]+,=@~-]')


def extension_of(content_type: str) -> str:
    own = _OWN.get(content_type) or (mimetypes.guess_extension(content_type, strict=False) or ".bin").lstrip(".")
    return own


def _fits(ext: str, content_type: str) -> bool:
    if ext in DANGEROUS or not ext:
        return False
    if content_type == "text/plain" and ext in _TEXT_ALSO:
        return True
    if ext == extension_of(content_type):
        return True
    return f".{ext}" in mimetypes.guess_all_extensions(content_type, strict=False)


def fit_name(name: str, content_type: str) -> str:
    """``name`` with the extension of ``content_type`` (dropping any that would run or render)."""
    stem = name
    while True:
        base, dot, ext = stem.rpartition(".")
        if not dot or not base or ext.lower() not in DANGEROUS:
            break
        stem = base.rstrip(" .")
    base, dot, ext = stem.rpartition(".")
    if dot and base and _fits(ext.lower(), content_type):
        return stem
    if stem.strip(" .").lower() in DANGEROUS or not stem.strip(" ."):
        stem = "file"
    return f"{stem}.{extension_of(content_type)}"


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _UNSAFE_ASCII.sub("_", folded).strip(" ._")


def content_disposition(disposition: str, name: str) -> str:
    """``attachment; filename="ascii"; filename*=UTF-8''…`` (RFC 6266 / 5987):
    every browser shows the UTF-8 name; an old client, its ASCII fallback."""
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    ascii_name = (_ascii(stem) or "file") + (f".{_ascii(ext)}" if _ascii(ext) else "")
    header = f'{disposition}; filename="{ascii_name}"'
    if ascii_name != name:
        header += "; filename*=UTF-8''" + quote(name, safe="")
    return header
