#!/usr/bin/env python3
"""Counts or closes the X11 top-level windows titled "Latchkey", the way a window manager's close
button does (a WM_DELETE_WINDOW message), for the end-to-end test of closing to the tray; or saves
what the Latchkey window shows on the X screen as a PNG (the end-to-end test's screenshots: the
pixels a person sees, and WebKitWebDriver's snapshot can hang when WebKit draws without GL
compositing, as Latchkey does on a machine without a GPU); or types keys into it, as a person at
the keyboard does (the window out of WebDriver's reach, after latchkey-tray opened it).

    x11-windows.py count | close | shot PATH | keys KEYSYM...
"""
import struct
import sys
import time
import zlib

from Xlib import XK, X, display, protocol
from Xlib.ext import xtest


def windows(d):
    found = []

    def walk(w):
        try:
            if w.get_wm_name() == "Latchkey":
                found.append(w)
        except Exception:
            pass
        try:
            children = w.query_tree().children
        except Exception:
            return  # destroyed while the tree was walked (a window closing)
        for child in children:
            walk(child)

    walk(d.screen().root)
    return found


def png(width, height, rgb_rows):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + row for row in rgb_rows)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def shot(w, path):
    g = w.get_geometry()
    image = w.get_image(0, 0, g.width, g.height, X.ZPixmap, 0xFFFFFFFF)
    data, stride = image.data, g.width * 4  # 24-bit depth in 32-bit pixels: B, G, R, unused
    rows = []
    for y in range(g.height):
        row, rgb = data[y * stride:(y + 1) * stride], bytearray(g.width * 3)
        rgb[0::3], rgb[1::3], rgb[2::3] = row[2::4], row[1::4], row[0::4]
        rows.append(bytes(rgb))
    with open(path, "wb") as f:
        f.write(png(g.width, g.height, rows))


def keys(d, w, names):
    """Gives `w` the keyboard focus (there is no window manager to do it), then presses and releases
    each key through XTEST."""
    w.set_input_focus(X.RevertToParent, X.CurrentTime)
    d.sync()
    time.sleep(0.3)
    for name in names:
        code = d.keysym_to_keycode(XK.string_to_keysym(name))
        if not code:
            sys.exit(f"no key {name}")
        for kind in (X.KeyPress, X.KeyRelease):
            xtest.fake_input(d, kind, code)
            d.sync()
        time.sleep(0.15)


def main():
    d = display.Display()
    wins = windows(d)
    if sys.argv[1:2] in (["shot"], ["keys"]):
        mapped = [w for w in wins if w.get_attributes().map_state == X.IsViewable]
        if not mapped:
            sys.exit("no Latchkey window is shown")
        w = max(mapped, key=lambda w: w.get_geometry().width * w.get_geometry().height)
        if sys.argv[1] == "shot":
            shot(w, sys.argv[2])
        else:
            keys(d, w, sys.argv[2:])
    elif sys.argv[1:] == ["close"]:
        protocols = d.intern_atom("WM_PROTOCOLS")
        delete = d.intern_atom("WM_DELETE_WINDOW")
        for w in wins:
            w.send_event(protocol.event.ClientMessage(
                window=w, client_type=protocols, data=(32, [delete, X.CurrentTime, 0, 0, 0])))
        d.flush()
    print(len(wins))


main()
