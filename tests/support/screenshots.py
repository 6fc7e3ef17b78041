"""Screenshots a browser test leaves behind: what each page looked like, for a person to check."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page


class Screenshots:
    """Full-page screenshots of one walk through the portal, numbered in the order taken.

    They go to a folder under the test's own output folder (pytest's tmp_path), never into the
    repository; each path is printed, so a failing run's captured output says where they are.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.taken: list[Path] = []

    def take(self, page: Page, name: str) -> Path:
        path = self.folder / f"{len(self.taken) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)
        print(f"screenshot: {path}")
        return path
