#!/usr/bin/env python3
"""Counts or closes the X11 top-level windows titled "Latchkey", the way a window manager's close
button does (a WM_DELETE_WINDOW message), for the end-to-end test of closing to the tray.

    x11-windows.py count | close
"""
import sys

from Xlib import X, display, protocol


def windows(d):
    found = []

    def walk(w):
        try:
            if w.get_wm_name() == "Latchkey":
                found.append(w)
        except Exception:
            pass
        for child in w.query_tree().children:
            walk(child)

    walk(d.screen().root)
    return found


def main():
    d = display.Display()
    wins = windows(d)
    if sys.argv[1:] == ["close"]:
        protocols = d.intern_atom("WM_PROTOCOLS")
        delete = d.intern_atom("WM_DELETE_WINDOW")
        for w in wins:
            w.send_event(protocol.event.ClientMessage(
                window=w, client_type=protocols, data=(32, [delete, X.CurrentTime, 0, 0, 0])))
        d.flush()
    print(len(wins))


main()
