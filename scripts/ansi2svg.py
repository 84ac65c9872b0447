#!/usr/bin/env python3
"""Turns a terminal capture with colours (`tmux capture-pane -e -p`) into an SVG: one <text> per
run of cells with the same style, on a dark background. Used by scripts/screenshot."""
import html
import re
import sys

PALETTE = [
    "#1d1f21", "#cc6666", "#b5bd68", "#f0c674", "#81a2be", "#b294bb", "#8abeb7", "#c5c8c6",
    "#666666", "#d54e53", "#b9ca4a", "#e7c547", "#7aa6da", "#c397d8", "#70c0b1", "#eaeaea",
]
FG, BG = "#c5c8c6", "#1d1f21"
CW, CH = 8.4, 17  # cell width and height in px (14px monospace)


def color256(n):
    if n < 16:
        return PALETTE[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return "#%02x%02x%02x" % (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    v = 8 + (n - 232) * 10
    return "#%02x%02x%02x" % (v, v, v)


def apply(style, params):
    ps = [int(p) if p else 0 for p in params.split(";")] if params else [0]
    i = 0
    while i < len(ps):
        p = ps[i]
        if p == 0:
            style = dict(fg=None, bg=None, bold=False, rev=False, ul=False)
        elif p == 1:
            style["bold"] = True
        elif p == 4:
            style["ul"] = True
        elif p == 7:
            style["rev"] = True
        elif p == 22:
            style["bold"] = False
        elif p == 24:
            style["ul"] = False
        elif p == 27:
            style["rev"] = False
        elif 30 <= p <= 37:
            style["fg"] = PALETTE[p - 30]
        elif 90 <= p <= 97:
            style["fg"] = PALETTE[p - 90 + 8]
        elif 40 <= p <= 47:
            style["bg"] = PALETTE[p - 40]
        elif 100 <= p <= 107:
            style["bg"] = PALETTE[p - 100 + 8]
        elif p == 39:
            style["fg"] = None
        elif p == 49:
            style["bg"] = None
        elif p in (38, 48) and i + 1 < len(ps):
            key = "fg" if p == 38 else "bg"
            if ps[i + 1] == 5 and i + 2 < len(ps):
                style[key] = color256(ps[i + 2])
                i += 2
            elif ps[i + 1] == 2 and i + 4 < len(ps):
                style[key] = "#%02x%02x%02x" % tuple(ps[i + 2:i + 5])
                i += 4
        i += 1
    return dict(style)


def cells(line):
    style = dict(fg=None, bg=None, bold=False, rev=False, ul=False)
    out = []
    for m in re.finditer(r"\x1b\[([0-9;]*)m|\x1b[^m]*?[A-Za-z]|(.)", line):
        if m.group(2) is not None:
            out.append((m.group(2), dict(style)))
        elif m.group(0).endswith("m") and m.group(0).startswith("\x1b["):
            style = apply(style, m.group(1))
    return out


def main():
    lines = sys.stdin.read().rstrip("\n").split("\n")
    cols = max(len(cells(l)) for l in lines)
    w, h = int(cols * CW) + 16, len(lines) * CH + 16
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        f'font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="14">',
        f'<rect width="100%" height="100%" fill="{BG}"/>',
    ]
    for y, line in enumerate(lines):
        row = cells(line)
        x = 0
        while x < len(row):
            ch, st = row[x]
            end = x
            while end < len(row) and row[end][1] == st:
                end += 1
            text = "".join(c for c, _ in row[x:end])
            fg, bg = st["fg"] or FG, st["bg"]
            if st["rev"]:
                fg, bg = (st["bg"] or BG), (st["fg"] or FG)
            px, py = 8 + x * CW, 8 + y * CH
            if bg:
                out.append(f'<rect x="{px:.1f}" y="{py}" width="{(end - x) * CW:.1f}" height="{CH}" fill="{bg}"/>')
            if text.strip():
                attrs = f'fill="{fg}"'
                if st["bold"]:
                    attrs += ' font-weight="bold"'
                if st["ul"]:
                    attrs += ' text-decoration="underline"'
                out.append(
                    f'<text x="{px:.1f}" y="{py + 13}" {attrs} xml:space="preserve" '
                    f'textLength="{(end - x) * CW:.1f}">{html.escape(text)}</text>'
                )
            x = end
    out.append("</svg>")
    print("\n".join(out))


if __name__ == "__main__":
    main()
