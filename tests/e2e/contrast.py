"""Text contrast as WCAG 2 measures it, read in the page (tests/e2e): every
visible text's colour against the background it is drawn on, opacity included."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Page

# [where, its text, the ratio, the ratio it needs] of each text under ``root`` below its WCAG AA
# minimum (4.5:1; 3:1 for large text: 24 px, or 18.66 px bold); a disabled control's text is exempt.
# The time the widget draws after a message (its ::after, from data-time) is measured too.
_LOW = """(root) => {
  const rgba = (c) => { const m = c.match(/[\\d.]+/g) || [0, 0, 0, 0]; return m.map(Number).concat([1]).slice(0, 4); };
  const lin = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const lum = ([r, g, b]) => 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  const over = ([r, g, b, a], [R, G, B]) => [r * a + R * (1 - a), g * a + G * (1 - a), b * a + B * (1 - a)];
  const ratio = (x, y) => { const [a, b] = [lum(x), lum(y)].sort((p, q) => q - p); return (a + 0.05) / (b + 0.05); };
  const background = (node) => {
    const chain = [];
    for (let n = node; n && n.nodeType === 1; n = n.parentElement) chain.push(n);
    let bg = [255, 255, 255];
    for (const n of chain.reverse()) bg = over(rgba(getComputedStyle(n).backgroundColor), bg);
    return bg;
  };
  const opacity = (node) => {
    let o = 1;
    for (let n = node; n && n.nodeType === 1; n = n.parentElement) o *= Number(getComputedStyle(n).opacity);
    return o;
  };
  const low = [];
  const check = (node, style, text, where, own = 1) => {
    const [r, g, b, a] = rgba(style.color);
    const fg = over([r, g, b, a * opacity(node) * own], background(node));
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    const need = large ? 3 : 4.5;
    const got = ratio(fg, background(node));
    if (got < need) low.push([where, text.slice(0, 40), Math.round(got * 100) / 100, need]);
  };
  for (const node of root.querySelectorAll('*')) {
    if (!node.checkVisibility({ visibilityProperty: true }) || node.closest(':disabled')) continue;
    const own = [...node.childNodes].filter((c) => c.nodeType === 3).map((c) => c.textContent).join('').trim();
    const where = node.dataset.testid || node.dataset.omr || node.id || String(node.className) || node.tagName;
    if (own) check(node, getComputedStyle(node), own, where);
    const after = getComputedStyle(node, '::after');
    if (node.dataset.time) check(node, after, node.dataset.time, where + '::after', Number(after.opacity));
  }
  return low;
}"""


async def low_contrast(page: Page, root: str = "body") -> list[Any]:
    """The texts under ``root`` (a selector) whose contrast is below WCAG AA."""
    found: list[Any] = await page.locator(root).first.evaluate(_LOW)
    return found
