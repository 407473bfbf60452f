"""Progress bars (tqdm) for long work, and a silent stand-in when they are switched off."""

from __future__ import annotations


class _Silent:
    def update(self, n=1):
        pass

    def close(self):
        pass


def progress_bar(total: int, desc: str, enabled: bool, *, unit: str = "it", initial: int = 0):
    if not enabled:
        return _Silent()
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit=unit, initial=initial, dynamic_ncols=True, leave=False)
