"""Whether a page in the browser fits its window's width, and what makes it wider."""

from __future__ import annotations

from playwright.sync_api import Page

# An element's name for a person reading the failure: its tag, id and classes, and those of
# the nearest ancestor that has an id or a class ("a in table.needs-attention").
NAME = """(e) => {
  const own = (n) => n.tagName.toLowerCase() + (n.id ? "#" + n.id : "")
    + [...n.classList].map((c) => "." + c).join("");
  const holder = e.parentElement && e.parentElement.closest("[id], [class]");
  return own(e) + (holder ? " in " + own(holder) : "");
}"""

# The innermost elements reaching past the window's right edge: the ones whose text or width
# needs fixing (their ancestors are only carried along).
PAGE_OVERFLOW = f"""() => {{
  const name = {NAME};
  const width = window.innerWidth;
  const scrollWidth = document.documentElement.scrollWidth;
  if (scrollWidth <= width) return null;
  const past = (e) => e.getBoundingClientRect().right > width + 1;
  const innermost = [...document.body.querySelectorAll("*")]
    .filter((e) => past(e) && ![...e.children].some(past));
  return `${{scrollWidth}} px wide in a ${{width}} px window `
    + `(${{[...new Set(innermost.map(name))].slice(0, 4).join(", ") || "no single element"}})`;
}}"""

# Boxes that fit the page only by scrolling sideways inside it (the admin wraps each list's
# table in one): the page is no wider than the window, but part of the list is out of sight.
SIDEWAYS = f"""() => {{
  const name = {NAME};
  const found = [...document.body.querySelectorAll("*")].filter((e) =>
    e.scrollWidth > e.clientWidth + 1
    && ["auto", "scroll"].includes(getComputedStyle(e).overflowX));
  if (!found.length) return null;
  return found.slice(0, 4)
    .map((e) => `${{name(e)}} scrolls ${{e.scrollWidth}} px in ${{e.clientWidth}} px`).join(", ");
}}"""


def wider_than_window(page: Page) -> str | None:
    """None when the page fits its window's width; otherwise by how much, and where."""
    return page.evaluate(PAGE_OVERFLOW)


def scrolled_sideways(page: Page) -> str | None:
    """None when nothing on the page must be scrolled sideways to be read; otherwise what."""
    return page.evaluate(SIDEWAYS)
